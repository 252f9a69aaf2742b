"""How the gate writes numbers, changes and rates in its messages."""

from __future__ import annotations


def format_number(number: float | None) -> str:
    """Compact, human-readable number ("-" for none)."""
    return "-" if number is None else f"{number:.6g}"


def format_pct(change: float | None) -> str:
    """Signed percentage with one decimal ("-" for none)."""
    return "-" if change is None else f"{change:+.1f}%"


def format_rate(rate: float) -> str:
    """A probability as a percentage: "5%", "16.7%", "0.39%"."""
    percent = rate * 100
    return f"{percent:.2g}%" if percent < 1 else f"{percent:.3g}%"
