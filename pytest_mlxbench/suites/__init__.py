"""Domain code of the bench suites, one package per suite domain (``suites/<domain>/``): data
loading, checkers and summaries, plus the suite's own options (``options.py``). The test files in
``bench_suites/`` stay thin and import from here."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def shipped_file(package: str, name: str) -> Path:
    """A data file shipped inside a suite package (``suites/<domain>/data/<name>``)."""
    return Path(str(resources.files(package) / "data" / name))
