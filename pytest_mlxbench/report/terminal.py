"""The short terminal summary of what was written: suite, rows, headline numbers, file paths,
skips with their reasons; and pytest-benchmark's own output, shown only when asked for."""

from __future__ import annotations

import json
import os
import shlex

HEADLINE_ROWS = 4


def format_value(value) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return repr(value)  # an invalid row still gets a summary line
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.4g}" if abs(value) < 1000 else f"{value:,.0f}"


def headline(rows: list[dict]) -> str:
    """The first few measured numbers; counts (of verdicts, failure kinds) stay in the envelope."""
    candidates = [row for row in rows if row.get("unit") != "count"] or rows
    shown = [f"{row['name']} {format_value(row['value'])} {row['unit']}" for row in candidates[:HEADLINE_ROWS]]
    more = len(rows) - len(shown)
    return "; ".join(shown) + (f"; … {more} more" if more > 0 else "")


def summary_lines(written) -> list[tuple[str, dict]]:
    lines: list[tuple[str, dict]] = []
    for suite in written:
        envelope = suite.envelope
        rows = envelope["results"]
        errors = len(envelope.get("errors", []))
        name = f"{suite.suite} [model-{suite.model}]" if getattr(suite, "model", None) else suite.suite
        lines.append((f"{name}: {len(rows)} rows, {errors} errors/notes — {headline(rows) or 'no results'}",
                      {"bold": True}))
        if suite.problems:
            lines.append((f"  INVALID envelope, kept as {suite.path}:", {"red": True}))
            lines.extend((f"    {problem}", {"red": True}) for problem in suite.problems)
        elif suite.path is None:
            lines.append(("  envelope: not written (below as JSON)", {"red": True}))
        else:
            lines.append((f"  envelope: {suite.path}", {}))
        if suite.samples_path:
            lines.append((f"  samples:  {suite.samples_path}", {}))
    return lines


def skip_lines(skips: dict[str, dict[str, int]]) -> list[tuple[str, dict]]:
    """One line per suite and reason of its skipped tests (so ``-rs`` is not needed to see why)."""
    return [(f"{suite}: {count} test(s) skipped: {reason}", {"yellow": True})
            for suite, reasons in sorted(skips.items()) for reason, count in reasons.items()]


def unsaved_envelope_lines(written) -> list[str]:
    """The envelopes no directory could take, one JSON document per line."""
    return [json.dumps(suite.envelope, ensure_ascii=False) for suite in written if suite.path is None]


def wants_benchmark_output(config) -> bool:
    """pytest-benchmark's header and table (200 columns) are shown only when the run asks for
    pytest-benchmark output: any ``--benchmark-*`` option, on the command line or in addopts.
    The mlxbench section is the run's summary."""
    args = [*config.invocation_params.args, *config.getini("addopts"),
            *shlex.split(os.environ.get("PYTEST_ADDOPTS", ""))]
    return any(str(arg).startswith("--benchmark-") for arg in args)


def is_benchmark_header(line) -> bool:
    return isinstance(line, str) and line.startswith("benchmark: ")
