"""PNG plots of envelopes: each draws only what the envelopes contain, or nothing.

matplotlib is imported lazily and used through its object API with the Agg canvas, so the
process-wide pyplot state and backend stay untouched.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pytest_mlxbench.gate import Outcome, index_results, result_key
from pytest_mlxbench.report.table import printable

# "p50", "ttft_p90", "long-prompt-p99.9": an optional prefix, then the percentile
_PERCENTILE_NAME = re.compile(r"^(?:(?P<prefix>.*)[_\-])?p(?P<pct>\d{1,2}(?:\.\d+)?)$", re.IGNORECASE)
_MAX_BARS = 60
# Envelope strings are hostile: "$...$" must stay literal text, never mathtext.
LITERAL_TEXT = {"text.parse_math": False, "axes.titlesize": "medium"}
_LABEL_WIDTH = 48


@dataclass(frozen=True)
class Plot:
    """A written plot: its file name inside the report directory, a title and alt text."""

    filename: str
    title: str
    alt: str


@dataclass(frozen=True)
class _Inputs:
    envelopes: Sequence[dict]
    baseline: Sequence[dict]
    outcomes: Sequence[Outcome]


def write_plots(
    envelopes: Sequence[dict],
    out_dir: Path,
    *,
    baseline: Sequence[dict] | None = None,
    outcomes: Sequence[Outcome] | None = None,
) -> list[Plot]:
    """Write the plots the data allows into ``out_dir``; stale files of absent plots are removed."""
    inputs = _Inputs(envelopes, baseline or [], outcomes or [])
    written = []
    for plot, draw in _PLOTS:
        path = out_dir / plot.filename
        figure = _draw_literal_text(draw, inputs)
        if figure is None:
            path.unlink(missing_ok=True)
            continue
        figure.savefig(path, dpi=100)
        written.append(plot)
    return written


def _draw_literal_text(draw: Callable, inputs: _Inputs):
    import matplotlib

    with matplotlib.rc_context(LITERAL_TEXT):
        figure = draw(inputs)
        if figure is not None:
            figure.tight_layout()
        return figure


def _new_figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height))
    FigureCanvasAgg(figure)
    return figure


def _label(text: str) -> str:
    text = printable(text)
    return text if len(text) <= _LABEL_WIDTH else text[: _LABEL_WIDTH - 3] + "..."


def _measured_rows(envelopes: Sequence[dict], suite: str | None = None):
    """(envelope, row) pairs of envelopes that ran, optionally of one suite."""
    for envelope in envelopes:
        if envelope.get("skipped") or (suite is not None and envelope["suite"] != suite):
            continue
        for row in envelope.get("results", []):
            yield envelope, row


# ---------------------------------------------------------------- throughput


# (panel, metric, field): a row belongs to a panel's line when it carries the panel's field, or has
# its metric; one metric per line, so prefill and total rows never join the decode line
THROUGHPUT_PANELS = (
    ("decode", "decode_throughput", "decode_tokens_per_second"),
    ("prefill", "prefill_throughput", "prompt_tokens_per_second"),
)
TOK_PER_S = ("tok/s", "tokens/s", "tokens/sec", "tok/sec")


def throughput_lines(envelopes: Sequence[dict], baseline: Sequence[dict] = ()):
    """Per panel, per (model, is_baseline): the (prompt tokens, tokens/s) points of its line."""
    panels = {}
    for panel, metric, field in THROUGHPUT_PANELS:
        series: dict[tuple[str, bool], list[tuple[int, float]]] = {}
        for is_baseline, group in ((False, envelopes), (True, baseline)):
            for envelope, row in _measured_rows(group, "throughput"):
                prompt_tokens, value = _int_tag(row, "prompt_tokens"), _rate(row, metric, field)
                if prompt_tokens is not None and _finite(value):
                    series.setdefault((envelope["model"], is_baseline), []).append((prompt_tokens, value))
        if series:
            panels[panel] = {key: sorted(points) for key, points in series.items()}
    return panels


def _rate(row: dict, metric: str, field: str):
    if field in row:
        return row[field]
    is_rate = row["unit"].lower().replace(" ", "") in TOK_PER_S
    return row["value"] if row["metric"] == metric and is_rate else None


def _throughput(inputs: _Inputs):
    panels = throughput_lines(inputs.envelopes, inputs.baseline)
    if not panels:
        return None
    figure = _new_figure(6 * len(panels), 4)
    for position, (title, series) in enumerate(panels.items(), start=1):
        axes = figure.add_subplot(1, len(panels), position)
        for (model, is_baseline), points in sorted(series.items()):
            axes.plot(
                [x for x, _ in points], [y for _, y in points], marker="o",
                linestyle="--" if is_baseline else "-",
                label=_label(f"{model} (baseline)" if is_baseline else model),
            )  # fmt: skip
        xs = sorted({x for points in series.values() for x, _ in points})
        if xs[0] > 0 and xs[-1] / xs[0] >= 8:
            axes.set_xscale("log", base=2)
        axes.set_xticks(xs, [str(x) for x in xs])
        axes.minorticks_off()
        axes.set(title=f"{title} throughput", xlabel="prompt tokens", ylabel="tokens / second")
        axes.set_ylim(bottom=0)
        axes.grid(alpha=0.3)
        axes.legend(fontsize="small")
    return figure


def _int_tag(row: dict, tag: str) -> int | None:
    try:
        return int(row.get("tags", {})[tag])
    except (KeyError, TypeError, ValueError):
        return None


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


# ---------------------------------------------------------------- ttft


_METRIC_TITLES = {"ttft": "time to first token", "latency": "end-to-end latency"}


def ttft_panels(envelopes: Sequence[dict], baseline: Sequence[dict] = ()):
    """Per (metric, unit), one panel and one unit on its axis: series label -> percentile -> value."""
    panels: dict[tuple[str, str], dict[str, dict[float, float]]] = {}
    for is_baseline, group in ((False, envelopes), (True, baseline)):
        for envelope, row in _measured_rows(group, "ttft"):
            match = _PERCENTILE_NAME.match(row["name"])
            if not match or not _finite(row["value"]):
                continue
            label = " ".join(filter(None, (envelope["model"], match["prefix"], "(baseline)" if is_baseline else "")))
            bars = panels.setdefault((row["metric"], row["unit"]), {})
            bars.setdefault(label, {})[float(match["pct"])] = row["value"]
    return panels


def _ttft(inputs: _Inputs):
    panels = ttft_panels(inputs.envelopes, inputs.baseline)
    if not panels:
        return None
    widest = max(len(bars) * len({pct for values in bars.values() for pct in values}) for bars in panels.values())
    figure = _new_figure(min(14, max(6, widest * 0.5 * len(panels))), 4)
    ordered = sorted(panels.items(), key=lambda panel: (panel[0][0] != "ttft", panel[0]))  # TTFT first
    for position, ((metric, unit), bars) in enumerate(ordered, start=1):
        axes = figure.add_subplot(1, len(panels), position)
        _percentile_bars(axes, bars)
        axes.set(title=_METRIC_TITLES.get(metric, _label(metric)), ylabel=_label(unit))
    return figure


def _percentile_bars(axes, bars: dict[str, dict[float, float]]) -> None:
    percentiles = sorted({pct for values in bars.values() for pct in values})
    width = 0.8 / len(bars)
    for offset, (label, values) in enumerate(sorted(bars.items())):
        positions = [index + offset * width for index, pct in enumerate(percentiles) if pct in values]
        axes.bar(positions, [values[pct] for pct in percentiles if pct in values], width, label=_label(label))
    axes.set_xticks([index + width * (len(bars) - 1) / 2 for index in range(len(percentiles))])
    axes.set_xticklabels([f"p{pct:g}" for pct in percentiles])
    axes.grid(axis="y", alpha=0.3)
    axes.legend(fontsize="small")


# ---------------------------------------------------------------- accuracy


def _accuracy(inputs: _Inputs):
    rows = [(env, row) for env, row in _measured_rows(inputs.envelopes) if _is_ratio(row)]
    rows = rows[:_MAX_BARS]
    if not rows:
        return None
    several_suites = len({env["suite"] for env, _ in rows}) > 1
    several_models = len({env["model"] for env, _ in rows}) > 1
    baseline = index_results(inputs.baseline)
    figure = _new_figure(7, 1 + 0.35 * len(rows))
    axes = figure.add_subplot()
    positions = range(len(rows))
    axes.barh(positions, [row["value"] for _, row in rows], color="tab:blue", label="current")
    previous = [
        (baseline[result_key(env, row)][0]["value"], position)
        for position, (env, row) in enumerate(rows)
        if result_key(env, row) in baseline
    ]
    if previous:
        axes.plot(*zip(*previous, strict=True), "k|", markersize=14, label="baseline")
    labels = [
        _label(" ".join(filter(None, (env["suite"] if several_suites else "", row["name"],
                                      f"[{env['model']}]" if several_models else ""))))
        for env, row in rows
    ]  # fmt: skip
    axes.set_yticks(list(positions), labels)
    axes.invert_yaxis()
    if all(0 <= row["value"] <= 1 for _, row in rows):
        axes.set_xlim(0, 1)
    axes.set(title="accuracy per category", xlabel="ratio")
    axes.grid(axis="x", alpha=0.3)
    axes.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1))
    return figure


def _is_ratio(row: dict) -> bool:
    return row["unit"].strip().lower() == "ratio" and _finite(row["value"])


# ---------------------------------------------------------------- gate


def _gate(inputs: _Inputs):
    """Each checked result as % of its baseline, with the limits of its rule."""
    outcomes = [o for o in inputs.outcomes if o.status != "skipped" and o.baseline and o.current is not None]
    outcomes = outcomes[:_MAX_BARS]
    if not outcomes:
        return None
    figure = _new_figure(9, 1.2 + 0.4 * len(outcomes))
    axes = figure.add_subplot()
    shown = [100.0]
    for position, outcome in enumerate(outcomes):
        scale = 100 / abs(outcome.baseline)
        current_range = [v * scale for v in outcome.current_range or ()]
        limits = [v * scale for v in (outcome.allowed_low, outcome.allowed_high) if v is not None]
        axes.hlines(position, *(current_range or [outcome.current * scale] * 2), color="grey")
        axes.vlines(limits, position - 0.35, position + 0.35, color="tab:orange", linewidth=2)
        color = "tab:red" if outcome.status == "failed" else "tab:green"
        axes.plot(outcome.current * scale, position, "o", color=color)
        shown += [outcome.current * scale, *current_range, *limits]
    axes.axvline(100, color="black", linewidth=1)
    margin = max(5.0, (max(shown) - min(shown)) * 0.1)
    axes.set_xlim(min(shown) - margin, max(shown) + margin)
    axes.set_yticks(range(len(outcomes)), [_label(o.id) for o in outcomes])
    axes.set_ylim(len(outcomes) - 0.5, -0.5)
    axes.set(title="current against baseline", xlabel="% of baseline")
    axes.grid(axis="x", alpha=0.3)
    axes.legend(handles=_gate_legend(), fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1))
    return figure


def _gate_legend() -> list:
    from matplotlib.lines import Line2D

    return [
        Line2D([], [], color="black", linewidth=1, label="baseline"),
        Line2D([], [], color="tab:orange", linewidth=2, label="rule limit"),
        Line2D([], [], color="grey", label="repeats of current"),
        Line2D([], [], color="tab:green", marker="o", linestyle="", label="current, passed"),
        Line2D([], [], color="tab:red", marker="o", linestyle="", label="current, failed"),
    ]


_PLOTS: tuple[tuple[Plot, Callable], ...] = (
    (Plot("throughput.png", "Throughput against prompt length", "tokens per second by prompt tokens"), _throughput),
    (Plot("ttft.png", "Time to first token", "time to first token percentiles"), _ttft),
    (Plot("accuracy.png", "Accuracy per category", "accuracy ratio per category"), _accuracy),
    (Plot("gate.png", "Current against baseline", "each checked result in percent of its baseline"), _gate),
)  # fmt: skip
