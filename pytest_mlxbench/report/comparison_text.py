"""The comparison's verdicts as text lines, for the terminal summary."""

from __future__ import annotations

from pytest_mlxbench.report.table import printable


def comparison_lines(envelope: dict) -> list[str]:
    """One line per difference (model minus reference, interval, p-value, test, verdict) and per
    minimum detectable difference."""
    lines = []
    for row in envelope.get("results", []):
        tags = row.get("tags", {})
        if tags.get("role") == "difference":
            lines.append(f"  {tags['suite']} {tags['headline']}: {tags['model']} - {tags['reference']} = "
                         f"{row['value']:+.3g} {row['unit']}{_interval(tags)} "
                         f"({tags['test']}, {tags['n']} {tags['n_of']}): {tags['verdict']}")
        elif tags.get("role") == "min_detectable_difference":
            lines.append(f"  {tags['suite']}: {tags['note']} (80% power)")
    return [printable(line) for line in lines]


def _interval(tags: dict) -> str:
    if "ci_low" not in tags:
        return ""
    low, high = float(tags["ci_low"]), float(tags["ci_high"])
    return f" [{low:+.3g}, {high:+.3g}], p = {float(tags['p_value']):.3g}"
