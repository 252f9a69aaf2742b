"""The short terminal summary of what was written: suite, rows, headline numbers, file paths."""

from __future__ import annotations

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
        else:
            lines.append((f"  envelope: {suite.path}", {}))
        if suite.samples_path:
            lines.append((f"  samples:  {suite.samples_path}", {}))
    return lines
