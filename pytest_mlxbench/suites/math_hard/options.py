"""Options of the math-hard suite."""

from pathlib import Path

from pytest_mlxbench.settings import Option
from pytest_mlxbench.suites.math_hard.equivalence import DEFAULT_CHECK_SECONDS


def levels(text: str, origin: Path) -> frozenset[int]:
    from pytest_mlxbench.suites.math_hard.problems import parse_levels

    return parse_levels(text)


OPTIONS = (
    Option("--math-dataset", "FILE", "math-hard: a MATH-format JSON-lines file (.gz ok; default: the shipped MATH-500)",
           kind="file"),
    Option("--math-levels", "LEVELS", "math-hard: MATH levels to run, e.g. 5, 4,5 or 1-5", "5", parse=levels),
    Option("--math-check-timeout", "SECONDS", "math-hard: time limit of one answer check (a reply that makes the "
           "checker hang is the miss checker_timeout)", f"{DEFAULT_CHECK_SECONDS:g}", kind="number", minimum=0.1),
)
