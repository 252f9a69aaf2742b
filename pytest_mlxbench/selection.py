"""What a ``-m`` expression names: a name that is neither a marker nor a suite (a typo such as
``-m througput``) deselects everything in silence; this finds it and the closest suite name."""

from __future__ import annotations

import difflib
import re

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
