"""The comparison page (``comparison.html``): models x suites with each headline and its interval,
each model's difference from the reference with its test and verdict (marked where the interval
excludes 0), the minimum detectable differences, load times and memory, plots with error bars,
and every note on what differs between the runs. Self-contained and escaped like the main page."""

from __future__ import annotations

import json
from pathlib import Path

from pytest_mlxbench.report.comparison_plots import (
    interval,
    rows_with_role,
    write_comparison_plots,
)
from pytest_mlxbench.report.html import _STYLE, _e, _num, _table, _td, _td_html
from pytest_mlxbench.report.terminal import format_value

PAGE = "comparison.html"
MARKERS = {"better": ("better ▲", "better"), "worse": ("worse ▼", "worse")}
COMPARISON_STYLE = ".better { background: #e3f6e3; } .worse { background: #fde2e2; } .same { color: #555; }"


def newest_comparison(envelopes: list[dict]) -> dict | None:
    found = [envelope for envelope in envelopes if envelope["suite"] == "capability-comparison"]
    return max(found, key=lambda envelope: envelope["timestamp"]) if found else None


def write_comparison_page(envelope: dict, out_dir: Path) -> Path:
    plots = write_comparison_plots(envelope, out_dir)
    page = out_dir / PAGE
    page.write_text(render_comparison(envelope, plots), encoding="utf-8")
    return page


def render_comparison(envelope: dict, plots: list) -> str:
    body = [
        "<h1>Model comparison</h1>",
        f'<p><a href="index.html">all envelopes</a> &middot; {_e(envelope["model"])} &middot; '
        f'{_e(envelope["timestamp"])}</p>',
        "<h2>Models</h2>", _models_table(envelope),
        "<h2>Headlines and differences from the reference</h2>",
        "<p>Each cell: the model's value and its 95% interval; below, its difference from the reference "
        "(the first model) on the same cases, repeats or requests, with the 95% interval, p-value and test. "
        "A difference whose interval holds 0 is no detectable difference, never a win.</p>",
        _headline_table(envelope),
    ]
    detectable = rows_with_role(envelope, "min_detectable_difference")
    if detectable:
        body += ["<h2>Minimum detectable differences</h2>", _detectable_table(detectable)]
    resources = [row for row in rows_with_role(envelope, "model") if "headline" not in row["tags"]]
    if resources:
        body += ["<h2>Load time and memory</h2>", _resource_table(resources)]
    if plots:
        body.append("<h2>Plots</h2>" + "".join(_figure(plot, series) for plot, series in plots))
    if envelope.get("errors"):
        items = "".join(f"<li>{_e(error)}</li>" for error in envelope["errors"])
        body += ["<h2>Notes</h2>", f'<ul class="errors">{items}</ul>']
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>pytest-mlxbench comparison</title><style>{_STYLE}{COMPARISON_STYLE}</style></head>\n<body>\n"
            + "\n".join(body) + "\n</body></html>\n")


def _models(envelope: dict) -> list[dict]:
    """The tags of each model's first row, in the envelope's order."""
    seen: dict[str, dict] = {}
    for row in rows_with_role(envelope, "model"):
        seen.setdefault(row["tags"]["model"], row["tags"])
    return list(seen.values())


def _models_table(envelope: dict) -> str:
    rows = [(_td(tags["model"]), _td(tags.get("model_name", "")), _td(tags.get("source", "")), _td(tags.get("run", "")),
             _td("reference" if position == 0 else ""))
            for position, tags in enumerate(_models(envelope))]
    return _table(("label", "model", "source", "run", ""), rows)


def _headline_table(envelope: dict) -> str:
    models = [tags["model"] for tags in _models(envelope)]
    values = {(row["tags"]["suite"], row["tags"]["headline"], row["tags"]["model"]): row
              for row in rows_with_role(envelope, "model") if "headline" in row["tags"]}
    differences = {(row["tags"]["suite"], row["tags"]["headline"], row["tags"]["model"]): row
                   for row in rows_with_role(envelope, "difference")}
    keys = list(dict.fromkeys((suite, headline) for suite, headline, _ in values))
    rows, classes = [], []
    for suite, headline in keys:
        cells = [_td(suite), _td(headline)]
        for model in models:
            value, difference = values.get((suite, headline, model)), differences.get((suite, headline, model))
            cells.append(_td_html(_cell(value, difference)))
        rows.append(cells)
        verdicts = {differences[key]["tags"]["verdict"] for key in differences if key[:2] == (suite, headline)}
        classes.append("worse" if "worse" in verdicts else "better" if "better" in verdicts else "")
    return _table(("suite", "headline", *models), rows, classes)


def _cell(value: dict | None, difference: dict | None) -> str:
    if value is None:
        return "-"
    parts = [f"{_e(format_value(value['value']))} {_e(value['unit'])}{_e(_bounds(value))}"]
    if difference is not None:
        tags = difference["tags"]
        marker, css = MARKERS.get(tags["verdict"], (tags["verdict"], "same"))
        p_value = f", p = {float(tags['p_value']):.3g}" if "p_value" in tags else ""
        parts.append(f'<span class="{css}">&Delta; {_e(_signed(difference["value"]))}{_e(_bounds(difference, True))}'
                     f"{_e(p_value)} ({_e(tags['test'])}, {_e(tags['n'])} {_e(tags['n_of'])}): {_e(marker)}</span>")
    return "<br>".join(parts)


def _bounds(row: dict, signed: bool = False) -> str:
    bounds = interval(row)
    if bounds is None:
        return ""
    show = _signed if signed else format_value
    return f" [{show(bounds[0])}, {show(bounds[1])}]"


def _signed(value: float) -> str:
    return f"{value:+.4g}"


def _detectable_table(rows: list[dict]) -> str:
    body = [(_td(row["tags"]["suite"]), _num(f"{row['value'] * 100:.1f} points"), _num(row["tags"]["n"]),
             _td(row["tags"]["pair"]), _td(row["tags"]["note"])) for row in rows]
    return _table(("suite", "detectable at 80% power", "cases", "pair", ""), body)


def _resource_table(rows: list[dict]) -> str:
    body = [(_td(row["tags"]["model"]), _td(row["metric"]), _td(row["tags"].get("backend", "")),
             _num(format_value(row["value"])), _td(row["unit"])) for row in rows]
    return _table(("model", "measure", "backend", "value", "unit"), body)


def _figure(plot, series: dict) -> str:
    data = _e(json.dumps(series, allow_nan=False))
    return (f'<figure data-plot="{_e(plot.filename)}" data-series="{data}"><img src="{_e(plot.filename)}" '
            f'alt="{_e(plot.alt)}"><figcaption>{_e(plot.title)}</figcaption></figure>')
