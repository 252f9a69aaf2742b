"""The history page (``history.html``): each headline over time per model, from a directory of
envelopes across commits and dates, with the points where the regression gate would have failed
the run against the previous run of the same suite and model.

The gate judges with the rules of ``--thresholds`` when given, else with one default rule per
headline: at most ``DEFAULT_LIMIT_PCT`` percent worse, and worse beyond the runs' noise where
their repeats or requests show it (``gate.evaluate``, as in CI).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from pytest_mlxbench import gate
from pytest_mlxbench.errors import BenchInputError
from pytest_mlxbench.report.html import _STYLE, _e, _num, _table, _td
from pytest_mlxbench.report.plots import LITERAL_TEXT, _label, _new_figure
from pytest_mlxbench.report.terminal import format_value
from pytest_mlxbench.suites.comparison.headlines import headlines

PAGE = "history.html"
DEFAULT_LIMIT_PCT = 5.0
DEFAULT_SOURCE = f"history default rule (worse by more than {DEFAULT_LIMIT_PCT:g}% and beyond noise)"


@dataclass
class Point:
    timestamp: str
    git_sha: str
    value: float
    flagged: list[str] = field(default_factory=list)  # the gate's failure messages


@dataclass
class Series:
    suite: str
    headline: str
    metric: str
    unit: str
    points: dict[str, list[Point]] = field(default_factory=dict)  # model -> points in time order

    @property
    def slug(self) -> str:
        return re.sub(r"[^A-Za-z0-9._-]+", "-", f"{self.suite}-{self.headline}").strip("-")


def history_series(envelopes: Sequence[dict], rules: Sequence[gate.Rule] | None = None) -> list[Series]:
    """Per (suite, headline): each model's values in time order, flagged where the gate fails a run
    against the model's previous run of that suite."""
    runs: dict[tuple[str, str], list[dict]] = {}
    for envelope in envelopes:
        if not envelope.get("skipped") and envelope["suite"] != "capability-comparison":
            runs.setdefault((envelope["suite"], envelope["model"]), []).append(envelope)
    found: dict[tuple[str, str], Series] = {}
    for (suite, model), ordered in sorted(runs.items()):
        ordered.sort(key=lambda envelope: _moment(envelope["timestamp"]))
        previous = None
        for envelope in ordered:
            failures = _gate_failures(envelope, previous, rules) if previous is not None else {}
            for head in headlines(suite, envelope, None):
                series = found.setdefault((suite, head.name), Series(suite, head.name, head.metric, head.unit))
                point = Point(envelope["timestamp"], envelope["git_sha"], head.value,
                              failures.get((head.name, head.metric), []))
                series.points.setdefault(model, []).append(point)
            previous = envelope
    return [found[key] for key in sorted(found, key=_natural)]


def _natural(key: tuple[str, str]) -> tuple:
    """decode_128 before decode_2048 before decode_512 would be string order: numbers as numbers."""
    return tuple(int(part) if part.isdigit() else part for text in key for part in re.split(r"(\d+)", text))


def _gate_failures(current: dict, previous: dict, rules: Sequence[gate.Rule] | None) -> dict[tuple, list[str]]:
    chosen = [rule for rule in rules if rule.suite == current["suite"]] if rules is not None else _default_rules(current)
    failures: dict[tuple, list[str]] = {}
    for rule in chosen:
        try:
            outcomes = gate.evaluate([rule], [current], [previous])
        except BenchInputError:  # a rule that matches nothing in this run, or cannot judge it
            continue
        for outcome in outcomes:
            if outcome.status == "failed":
                failures.setdefault((outcome.name, outcome.metric), []).append(outcome.message)
    return failures


def _default_rules(envelope: dict) -> list[gate.Rule]:
    rules = []
    for index, head in enumerate(headlines(envelope["suite"], envelope, None)):
        limit = {"max_drop_pct": DEFAULT_LIMIT_PCT} if head.higher_is_better else {"max_rise_pct": DEFAULT_LIMIT_PCT}
        rules.append(gate.Rule(index, DEFAULT_SOURCE, envelope["suite"], name=_glob_literal(head.name),
                               metric=_glob_literal(head.metric), higher_is_better=head.higher_is_better, **limit))
    return rules


def _glob_literal(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


def _moment(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


# ---------------------------------------------------------------- page


def write_history(envelopes: Sequence[dict], out_dir: str | Path, rules: Sequence[gate.Rule] | None = None) -> Path:
    out_dir = Path(out_dir)
    series = history_series(envelopes, rules)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for stale in out_dir.glob("history-*.png"):
            stale.unlink()
        for entry in series:
            _plot(entry).savefig(out_dir / f"history-{entry.slug}.png", dpi=100)
        page = out_dir / PAGE
        page.write_text(render_history(series, rules is not None), encoding="utf-8")
    except OSError as exc:
        raise BenchInputError(f"cannot write the history to {out_dir}: {exc.strerror or exc}") from None
    return page


def _plot(series: Series):
    import matplotlib

    with matplotlib.rc_context(LITERAL_TEXT):
        figure = _new_figure(8, 3.6)
        axes = figure.add_subplot()
        for model, points in series.points.items():
            moments = [_moment(point.timestamp) for point in points]
            line, = axes.plot(moments, [point.value for point in points], marker="o", label=_label(model))
            flagged = [(moment, point.value) for moment, point in zip(moments, points) if point.flagged]
            if flagged:
                axes.plot(*zip(*flagged), "X", color="tab:red", markersize=12, markeredgecolor="black",
                          label=_label(f"{model}: gate would fail"))
        axes.set(title=f"{series.suite} {series.headline}", ylabel=series.unit)
        axes.grid(alpha=0.3)
        axes.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1))
        figure.autofmt_xdate()
        figure.tight_layout()
    return figure


def render_history(series: Sequence[Series], user_rules: bool) -> str:
    how = "the rules of --thresholds" if user_rules else DEFAULT_SOURCE
    body = ["<h1>pytest-mlxbench history</h1>",
            f"<p>Each headline over time per model. A red X marks a run the gate would have failed against "
            f"the previous run of the same suite and model, judged by {_e(how)}.</p>"]
    if not series:
        body.append("<p>No headline metrics in these envelopes.</p>")
    for entry in series:
        data = {model: [[p.timestamp, p.value, p.git_sha[:12], bool(p.flagged)] for p in points]
                for model, points in entry.points.items()}
        body.append(f'<section><h2>{_e(entry.suite)} {_e(entry.headline)}</h2>'
                    f'<figure data-plot="history-{_e(entry.slug)}.png" data-series="{_e(json.dumps(data))}">'
                    f'<img src="history-{_e(entry.slug)}.png" alt="{_e(entry.headline)} over time per model">'
                    f"</figure>{_points_table(entry)}</section>")
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>pytest-mlxbench history</title><style>{_STYLE}</style></head>\n<body>\n"
            + "\n".join(body) + "\n</body></html>\n")


def _points_table(series: Series) -> str:
    rows, classes = [], []
    for model, points in series.points.items():
        for point in points:
            rows.append((_td(model), _td(point.timestamp), _td(point.git_sha[:12]),
                         _num(f"{format_value(point.value)} {series.unit}"), _td("; ".join(point.flagged))))
            classes.append("failed" if point.flagged else "")
    return _table(("model", "run", "commit", series.headline, "gate"), rows, classes)
