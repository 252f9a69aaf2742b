"""The self-contained HTML page: tables of every envelope, gate outcomes and the plots.

No script, font or style is loaded from anywhere: the page works offline, and its only external
references are the PNG files written next to it. Every string from an envelope is escaped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from html import escape
from pathlib import Path

from pytest_mlxbench.errors import BenchInputError
from pytest_mlxbench.gate import (
    Outcome,
    change_pct,
    format_number,
    format_pct,
    index_results,
    result_key,
)
from pytest_mlxbench.report.plots import Plot, write_plots

KEY_FIELDS = {
    "duration_seconds": "duration s",
    "prompt_tokens_per_second": "prefill tok/s",
    "decode_tokens_per_second": "decode tok/s",
    "total_tokens_per_second": "total tok/s",
    "first_token_latency_ms": "TTFT ms",
    "peak_rss_mb": "peak RSS MB",
}
PAGE_TITLES = {"comparison.html": "Model comparison", "history.html": "History"}
RUN_FIELDS = ("timestamp", "git_sha", "trigger", "pr_number", "model_revision", "quantization", "seed", "gen_kwargs")
_RAW_LIMIT = 2000

_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em auto; max-width: 75em; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
td { overflow-wrap: break-word; }
th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.failed { background: #fde2e2; } .passed { background: #e3f6e3; } .skipped { background: #f1f1f1; }
.errors li { color: #a00; white-space: pre-wrap; }
pre { white-space: pre-wrap; word-break: break-all; max-height: 20em; overflow: auto; background: #f7f7f7; }
img { max-width: 100%; border: 1px solid #ddd; }
section { margin-bottom: 2.5em; }
"""


def write_report(
    envelopes: Sequence[dict],
    out_dir: str | Path,
    *,
    baseline: Sequence[dict] | None = None,
    outcomes: Sequence[Outcome] | None = None,
    links: Sequence[str] = (),
) -> Path:
    """Write ``index.html`` and its PNG plots into ``out_dir`` (and ``comparison.html`` when a
    capability-comparison envelope is among them; ``links``: other pages beside it to link to);
    returns the page's path."""
    from pytest_mlxbench.report.comparison_page import (
        newest_comparison,
        write_comparison_page,
    )

    out_dir = Path(out_dir)
    page = out_dir / "index.html"
    suites = [envelope for envelope in envelopes if envelope["suite"] != "capability-comparison"]
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        plots = write_plots(suites, out_dir, baseline=baseline, outcomes=outcomes)
        comparison = newest_comparison(list(envelopes))
        links = [*links, *([write_comparison_page(comparison, out_dir).name] if comparison else [])]
        page.write_text(render_page(envelopes, plots, baseline=baseline, outcomes=outcomes, links=links),
                        encoding="utf-8")
    except OSError as exc:
        raise BenchInputError(f"cannot write the report to {out_dir}: {exc.strerror or exc}") from None
    return page


def render_page(
    envelopes: Sequence[dict],
    plots: Sequence[Plot],
    *,
    baseline: Sequence[dict] | None = None,
    outcomes: Sequence[Outcome] | None = None,
    links: Sequence[str] = (),
) -> str:
    """The HTML of the report page (``links``: pages written beside it, e.g. the model comparison)."""
    baseline_rows = index_results(baseline or [])
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    body = [
        "<h1>pytest-mlxbench report</h1>",
        f"<p>{len(envelopes)} suite run(s); generated {generated}"
        f"{'; compared with a baseline' if baseline else ''}.</p>",
        _overview(envelopes),
        *(f'<p><a href="{_e(link)}">{_e(PAGE_TITLES.get(link, link))}</a></p>' for link in links),
    ]
    if outcomes:
        body.append(_outcomes_section(outcomes))
    if plots:
        body.append(_plots_section(plots))
    body += [_envelope_section(position, env, baseline_rows) for position, env in enumerate(envelopes)]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>pytest-mlxbench report</title><style>{_STYLE}</style></head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


def _overview(envelopes: Sequence[dict]) -> str:
    if not envelopes:
        return "<p>No envelopes to report.</p>"
    rows = [
        (
            _td_html(f'<a href="#run-{position}">{_e(env["suite"])}</a>'),
            _td(env["model"]),
            _td("skipped" if env.get("skipped") else len(env.get("results", []))),
            _num(str(len(env.get("errors", [])))),
            _td(env.get("timestamp", "")),
        )
        for position, env in enumerate(envelopes)
    ]
    return _table(("suite", "model", "results", "errors", "timestamp"), rows)


def _outcomes_section(outcomes: Sequence[Outcome]) -> str:
    failed = sum(outcome.status == "failed" for outcome in outcomes)
    rows = [
        (
            _td(o.status),
            _td(o.id),
            _num(format_number(o.current)),
            _num(format_number(o.baseline)),
            _num(format_pct(o.change_pct)),
            _td(o.limit),
            _td(o.message),
        )
        for o in outcomes
    ]
    classes = [o.status for o in outcomes]
    headers = ("status", "check", "current", "baseline", "change", "limit", "message")
    return (
        f"<section><h2>Thresholds: {failed} of {len(outcomes)} failed</h2>"
        + _table(headers, rows, classes)
        + "</section>"
    )


def _plots_section(plots: Sequence[Plot]) -> str:
    figures = "".join(
        f'<figure><img src="{_e(plot.filename)}" alt="{_e(plot.alt)}">'
        f"<figcaption>{_e(plot.title)}</figcaption></figure>"
        for plot in plots
    )
    return f"<section><h2>Plots</h2>{figures}</section>"


def _envelope_section(position: int, envelope: dict, baseline_rows: dict) -> str:
    title = f"{_e(envelope['suite'])} &middot; {_e(envelope['model'])}"
    if envelope.get("skipped"):
        title += " (skipped)"
    parts = [f'<section id="run-{position}"><h2>{title}</h2>', _run_info(envelope)]
    if envelope.get("results"):
        parts += ["<h3>Results</h3>", _results_table(envelope, baseline_rows)]
    if envelope.get("memory_snapshots"):
        parts += ["<h3>Memory</h3>", _memory_table(envelope["memory_snapshots"])]
    if envelope.get("errors"):
        items = "".join(f"<li>{_e(error)}</li>" for error in envelope["errors"])
        parts += ["<h3>Errors</h3>", f'<ul class="errors">{items}</ul>']
    parts.append("</section>")
    return "\n".join(parts)


def _run_info(envelope: dict) -> str:
    run = [(field, envelope[field]) for field in RUN_FIELDS if envelope.get(field) is not None]
    system = list(envelope.get("system", {}).items())
    rows = [(_td(key), _td(_plain(value))) for key, value in run + system]
    return _table(("run and system", ""), rows)


def _results_table(envelope: dict, baseline_rows: dict) -> str:
    """The rows of an envelope; tags every row shares are shown once above the table."""
    results = envelope["results"]
    fields = [field for field in KEY_FIELDS if any(field in row for row in results)]
    previous = [baseline_rows.get(result_key(envelope, row)) for row in results]
    common = shared_tags(results)
    own_tags = [{key: value for key, value in row.get("tags", {}).items() if key not in common} for row in results]
    with_baseline, with_tags, with_raw = any(previous), any(own_tags), any("raw" in row for row in results)
    headers = ["name", "metric", "value", "unit", *(KEY_FIELDS[f] for f in fields)]
    if with_baseline:
        headers += ["baseline", "change"]
    if with_tags:
        headers.append("tags")
    if with_raw:
        headers.append("raw")
    rows = []
    for row, before, tags in zip(results, previous, own_tags, strict=True):
        cells = [_td(row["name"]), _td(row["metric"]), _num(format_number(row["value"])), _td(row["unit"])]
        cells += [_num(format_number(row.get(field))) for field in fields]
        if with_baseline:
            cells += _baseline_cells(row, before)
        if with_tags:
            cells.append(_td(_tags_text(tags)))
        if with_raw:
            cells.append(_td_html(_raw_details(row)))
        rows.append(cells)
    above = f'<p class="tags">Tags of every row: {_e(_tags_text(common))}</p>' if common else ""
    return above + _table(headers, rows)


def shared_tags(rows: Sequence[dict]) -> dict:
    """The tags (name and value) that every row carries, when there is more than one row."""
    if len(rows) < 2:
        return {}
    first, *others = [row.get("tags", {}) for row in rows]
    return {key: value for key, value in first.items() if all(tags.get(key) == value for tags in others)}


def _baseline_cells(row: dict, before: list[dict] | None) -> list[str]:
    if not before:
        return [_num("-"), _num("-")]
    value = before[0]["value"]
    return [_num(format_number(value)), _num(format_pct(change_pct(row["value"], value)))]


def _memory_table(snapshots: Sequence[dict]) -> str:
    columns = ("phase", "rss_gb", "free_gb", "wired_gb", "swap_mb")
    rows = [
        [_td(snapshot.get("phase", ""))] + [_num(format_number(snapshot.get(c))) for c in columns[1:]]
        for snapshot in snapshots
    ]
    return _table(columns, rows)


def _tags_text(tags: dict) -> str:
    return ", ".join(f"{key}={value}" for key, value in tags.items())


def _raw_details(row: dict) -> str:
    if "raw" not in row:
        return ""
    text = _plain(row["raw"])
    if len(text) > _RAW_LIMIT:
        text = text[:_RAW_LIMIT] + f"... ({len(text) - _RAW_LIMIT} more characters)"
    return f"<details><summary>raw</summary><pre>{_e(text)}</pre></details>"


def _plain(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def _table(headers: Iterable[str], rows: Iterable[Sequence[str]], row_classes: Sequence[str] = ()) -> str:
    """A table from header text (escaped here) and rows of ready ``<td>`` cells."""
    head = "".join(f"<th>{_e(header)}</th>" for header in headers)
    classes = [f' class="{_e(name)}"' for name in row_classes]
    body = "".join(f"<tr{classes[i] if i < len(classes) else ''}>{''.join(row)}</tr>" for i, row in enumerate(rows))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _td(text: object) -> str:
    return f"<td>{_e(text)}</td>"


def _td_html(markup: str) -> str:
    return f"<td>{markup}</td>"


def _num(text: str) -> str:
    return f'<td class="num">{_e(text)}</td>'


def _e(value: object) -> str:
    return escape(str(value), quote=True)
