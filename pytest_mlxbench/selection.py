"""Which suite an item belongs to (its marker, checked at collection), and what a ``-m`` expression
names: a name that is neither a marker nor a suite (a typo such as ``-m througput``) deselects
everything in silence; this finds it and the closest suite name."""

from __future__ import annotations

import difflib
import re

import pytest

from .envelope import suite_names
from .records import SUITE

SUITES = suite_names()
RECORDERS = frozenset({"record_metric", "record_sample"})

_KEYWORD_ARGUMENT = re.compile(r"""\w+\s*=\s*("[^"]*"|'[^']*'|[^,)\s]+)""")  # -m "mark(key=value)"
_NAME = re.compile(r"(?:\w|:|\+|-|\.|\[|\]|\\|/)+")  # pytest's identifier in mark expressions
_OPERATORS = frozenset({"and", "or", "not", "True", "False", "None"})


def expression_names(expression: str) -> list[str]:
    """The marker names a ``-m`` expression refers to, in order."""
    return [name for name in _NAME.findall(_KEYWORD_ARGUMENT.sub("", expression)) if name not in _OPERATORS]


def registered_markers(ini_lines: list[str]) -> set[str]:
    """Marker names from the ``markers`` ini lines (``name: help`` or ``name(args): help``)."""
    return {re.split(r"[:(]", line, maxsplit=1)[0].strip() for line in ini_lines}


def unknown_name_problem(expression: str, known: set[str], suites: tuple[str, ...]) -> str | None:
    """One line for the first name in ``expression`` that is not in ``known``, or None."""
    unknown = [name for name in expression_names(expression) if name not in known]
    if not unknown:
        return None
    name = unknown[0]
    closest = difflib.get_close_matches(name, suites, n=1, cutoff=0.5)
    hint = f"did you mean {closest[0]!r}?" if closest else f"suites: {', '.join(suites)}"
    return f"-m {expression!r}: {name!r} is neither a marker nor a suite, so nothing was selected; {hint}"


def suite_of(item: pytest.Item) -> dict | None:
    """The suite tag the plugin gave the item at collection (None for other tests)."""
    return next((value for key, value in item.user_properties if key == SUITE), None)


ITEM_SUITES = pytest.StashKey[list[str]]()


def item_suites(item: pytest.Item) -> list[str]:
    """The suite markers of an item, read once (collection asks for every item several times)."""
    if ITEM_SUITES not in item.stash:
        item.stash[ITEM_SUITES] = list(dict.fromkeys(mark.name for mark in item.iter_markers() if mark.name in SUITES))
    return item.stash[ITEM_SUITES]


def suite_marker_problems(items: list[pytest.Item]) -> list[str]:
    is_bench_file = any(item_suites(item) or RECORDERS & set(getattr(item, "fixturenames", ())) for item in items)
    if not is_bench_file:
        return []
    problems = []
    for item in items:
        suites = item_suites(item)
        if not suites:
            problems.append(f"{item.nodeid}: a benchmark test needs one suite marker, e.g. "
                            f"pytestmark = pytest_mlxbench.suite('throughput'); suites: {', '.join(SUITES)}")
        elif len(suites) > 1:
            problems.append(f"{item.nodeid}: a benchmark test belongs to one suite, it is marked {' and '.join(suites)}")
    return problems
