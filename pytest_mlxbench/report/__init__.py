"""Reports of result envelopes: the HTML page with PNG plots, and the terminal outcome table."""

from pytest_mlxbench.report.html import write_report
from pytest_mlxbench.report.table import format_outcomes_table

__all__ = ["format_outcomes_table", "write_report"]
