"""PNG plots of a capability-comparison envelope. Each returns its figure and the series it drew
(label -> points), which the page keeps beside the image so a reader (or a test) can check what
each plot shows."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pytest_mlxbench.report.plots import LITERAL_TEXT, Plot, _label, _new_figure

CURVE_SUITES = ("throughput",)  # headlines per prompt length: drawn as curves, not bars
SIGNIFICANT_COLORS = {"better": "tab:green", "worse": "tab:red"}


def rows_with_role(envelope: dict, role: str) -> list[dict]:
    return [row for row in envelope.get("results", []) if row.get("tags", {}).get("role") == role]


def interval(row: dict) -> tuple[float, float] | None:
    tags = row.get("tags", {})
    try:
        return float(tags["ci_low"]), float(tags["ci_high"])
    except (KeyError, ValueError):
        return None


def _is_curve(row: dict) -> bool:
    return row["tags"].get("suite") in CURVE_SUITES and "prompt_tokens" in row["tags"]


def _point(x, row: dict) -> list:
    bounds = interval(row)
    return [x, row["value"], *(bounds if bounds else (None, None))]


def _headline_rows(envelope: dict) -> list[dict]:
    return [row for row in rows_with_role(envelope, "model") if "headline" in row["tags"]]


# ---------------------------------------------------------------- bars of headlines


def headline_bars(envelope: dict):
    """Each headline not drawn as a curve, one bar per model with its interval; a panel per unit."""
    rows = [row for row in _headline_rows(envelope) if not _is_curve(row)]
    if not rows:
        return None, {}
    units = sorted({row["unit"] for row in rows})
    models = list(dict.fromkeys(row["tags"]["model"] for row in rows))
    series: dict[str, list] = {model: [] for model in models}
    figure = _new_figure(max(6, 3.5 * len(units)), 4)
    for position, unit in enumerate(units, start=1):
        axes = figure.add_subplot(1, len(units), position)
        of_unit = [row for row in rows if row["unit"] == unit]
        groups = list(dict.fromkeys(f"{row['tags']['suite']} {row['tags']['headline']}" for row in of_unit))
        width = 0.8 / len(models)
        for offset, model in enumerate(models):
            points = [_point(group, row) for group in groups for row in of_unit
                      if row["tags"]["model"] == model and f"{row['tags']['suite']} {row['tags']['headline']}" == group]
            series[model] += points
            positions = [groups.index(point[0]) + offset * width for point in points]
            values = [point[1] for point in points]
            axes.bar(positions, values, width, label=_label(model), yerr=_error_bars(points), capsize=3)
        axes.set_xticks([index + width * (len(models) - 1) / 2 for index in range(len(groups))],
                        [_label(group) for group in groups], rotation=20, ha="right", fontsize="small")
        axes.set(title=f"headlines ({unit})", ylabel=unit)
        if unit == "ratio":
            axes.set_ylim(0, 1.05)
        axes.grid(axis="y", alpha=0.3)
        axes.legend(fontsize="small")
    return figure, series


def _error_bars(points: list[list]):
    """matplotlib's yerr (distances below and above) from [x, value, low, high] points; none drawn
    where a point has no interval."""
    below = [point[1] - point[2] if point[2] is not None else 0.0 for point in points]
    above = [point[3] - point[1] if point[3] is not None else 0.0 for point in points]
    return [below, above]


# ---------------------------------------------------------------- differences


def difference_forest(envelope: dict):
    """Each model's difference from the reference with its 95% interval, a panel per unit (one
    above the other); green or red where the interval excludes 0 (better or worse), grey where it
    holds 0."""
    rows = rows_with_role(envelope, "difference")
    if not rows:
        return None, {}
    units = sorted({row["unit"] for row in rows})
    counts = [sum(row["unit"] == unit for row in rows) for unit in units]
    series: dict[str, list] = {}
    figure = _new_figure(9, sum(1.2 + 0.4 * count for count in counts))
    grid = figure.add_gridspec(len(units), 1, height_ratios=[1.2 + 0.4 * count for count in counts])
    for position, unit in enumerate(units):
        axes = figure.add_subplot(grid[position])
        of_unit = [row for row in rows if row["unit"] == unit]
        labels = []
        for index, row in enumerate(of_unit):
            tags = row["tags"]
            label = f"{tags['suite']} {tags['headline']}: {tags['model']} - {tags['reference']}"
            labels.append(_label(label))
            point = _point(label, row) + [tags["verdict"]]
            series.setdefault(unit, []).append(point)
            color = SIGNIFICANT_COLORS.get(tags["verdict"], "grey")
            if point[2] is not None:
                axes.hlines(index, point[2], point[3], color=color, linewidth=2)
            axes.plot(row["value"], index, "o", color=color)
        axes.axvline(0, color="black", linewidth=1)
        axes.set_yticks(range(len(of_unit)), labels, fontsize="small")
        axes.set_ylim(len(of_unit) - 0.5, -0.5)
        axes.set(title=f"difference from the reference ({unit})", xlabel=f"{unit}, 95% interval")
        axes.grid(axis="x", alpha=0.3)
    return figure, series


# ---------------------------------------------------------------- curves


def throughput_curves(envelope: dict):
    """Throughput headlines against prompt length, one line per model, a panel per metric."""
    rows = [row for row in _headline_rows(envelope) if _is_curve(row)]
    if not rows:
        return None, {}
    metrics = list(dict.fromkeys(row["metric"] for row in rows))
    series: dict[str, list] = {}
    figure = _new_figure(5 * len(metrics), 4)
    for position, metric in enumerate(metrics, start=1):
        axes = figure.add_subplot(1, len(metrics), position)
        of_metric = [row for row in rows if row["metric"] == metric]
        for model in dict.fromkeys(row["tags"]["model"] for row in of_metric):
            points = sorted(_point(int(row["tags"]["prompt_tokens"]), row) for row in of_metric
                            if row["tags"]["model"] == model)
            series[f"{metric} {model}"] = points
            axes.errorbar([p[0] for p in points], [p[1] for p in points], yerr=_error_bars(points),
                          marker="o", capsize=3, label=_label(model))
        xs = sorted({int(row["tags"]["prompt_tokens"]) for row in of_metric})
        if xs[0] > 0 and xs[-1] / xs[0] >= 8:
            axes.set_xscale("log", base=2)
        axes.set_xticks(xs, [str(x) for x in xs])
        axes.minorticks_off()
        axes.set(title=metric.replace("_", " "), xlabel="prompt tokens", ylabel=of_metric[0]["unit"])
        axes.grid(alpha=0.3)
        axes.legend(fontsize="small")
    return figure, series


COMPARISON_PLOTS: tuple[tuple[Plot, Callable], ...] = (
    (Plot("comparison-headlines.png", "Headlines per model", "each headline per model with its 95% interval"),
     headline_bars),
    (Plot("comparison-differences.png", "Differences from the reference",
          "each model minus the reference with its 95% interval"), difference_forest),
    (Plot("comparison-throughput.png", "Throughput per model against prompt length",
          "throughput headlines per model by prompt tokens"), throughput_curves),
)


def write_comparison_plots(envelope: dict, out_dir: Path) -> list[tuple[Plot, dict]]:
    """Write the plots the envelope allows; each with the series it drew."""
    import matplotlib

    written = []
    for plot, draw in COMPARISON_PLOTS:
        path = out_dir / plot.filename
        with matplotlib.rc_context(LITERAL_TEXT):
            figure, series = draw(envelope)
            if figure is None:
                path.unlink(missing_ok=True)
                continue
            figure.tight_layout()
            figure.savefig(path, dpi=100)
        written.append((plot, series))
    return written
