"""Plain-text table of gate outcomes for the terminal."""

from __future__ import annotations

from collections.abc import Sequence

from pytest_mlxbench.gate import Outcome, format_number, format_pct

_HEADERS = ("STATUS", "CHECK", "CURRENT", "BASELINE", "CHANGE", "LIMIT")
_STATUS_LABELS = {"passed": "PASS", "failed": "FAIL", "skipped": "SKIP"}
_MAX_CELL = 70


def format_outcomes_table(outcomes: Sequence[Outcome]) -> str:
    """Aligned table, one line per outcome, followed by the message of each failure."""
    if not outcomes:
        return "no threshold rules evaluated"
    rows = [_HEADERS] + [_row(outcome) for outcome in outcomes]
    widths = [max(len(row[column]) for row in rows) for column in range(len(_HEADERS))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    failures = [outcome for outcome in outcomes if outcome.status == "failed"]
    if failures:
        lines.append("")
        lines += [f"FAIL {printable(o.id)}: {printable(o.message)}" for o in failures]
    counts = {status: sum(o.status == status for o in outcomes) for status in _STATUS_LABELS}
    lines.append(", ".join(f"{count} {status}" for status, count in counts.items() if count))
    return "\n".join(lines)


def _row(outcome: Outcome) -> tuple[str, ...]:
    return (
        _STATUS_LABELS.get(outcome.status, outcome.status.upper()),
        _clip(printable(outcome.id)),
        format_number(outcome.current),
        format_number(outcome.baseline),
        format_pct(outcome.change_pct),
        outcome.limit,
    )


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_CELL else text[: _MAX_CELL - 3] + "..."


def printable(text: str) -> str:
    """Text from envelopes with control characters (ANSI escapes, newlines) shown as escapes."""
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)
