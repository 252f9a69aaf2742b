"""Threshold rules: ``[[rule]]`` tables in a TOML file, or ``[[tool.mlxbench.rule]]`` in pyproject.toml.

Each rule selects result rows of one suite (``model``, ``name`` and ``metric`` are globs) and
bounds one numeric field of them: absolutely (``min``/``max``) or relative to a baseline run
(``max_drop_pct``/``max_rise_pct``). ``min_repeats`` makes the rule refuse to judge a result whose
runs bring fewer measurements than that (repeats, or requests for a row judged by its requests).
Any mistake in a rules file is one ``BenchInputError`` line naming the file and the rule.
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pytest_mlxbench import envelope as contract
from pytest_mlxbench.errors import BenchInputError

from .format import format_number

RULE_KEYS = (
    "suite",
    "model",
    "name",
    "metric",
    "field",
    "min",
    "max",
    "max_drop_pct",
    "max_rise_pct",
    "higher_is_better",
    "min_repeats",
)


@dataclass(frozen=True)
class Rule:
    """One threshold rule; ``index`` is its position in ``source`` (0-based)."""

    index: int
    source: str
    suite: str
    model: str = "*"
    name: str = "*"
    metric: str = "*"
    field: str = "value"
    min: float | None = None
    max: float | None = None
    max_drop_pct: float | None = None
    max_rise_pct: float | None = None
    higher_is_better: bool | None = None
    min_repeats: int | None = None

    @property
    def label(self) -> str:
        return f"rule {self.index} ({self.suite}/{self.name})"

    @property
    def is_relative(self) -> bool:
        return self.max_drop_pct is not None or self.max_rise_pct is not None

    def error(self, problem: str) -> BenchInputError:
        return BenchInputError(f"{self.source}: {self.label}: {problem}")

    def describe_limits(self) -> str:
        parts = []
        if self.min is not None:
            parts.append(f">= {format_number(self.min)}")
        if self.max is not None:
            parts.append(f"<= {format_number(self.max)}")
        if self.max_drop_pct is not None:
            parts.append(f"drop <= {format_number(self.max_drop_pct)}%")
        if self.max_rise_pct is not None:
            parts.append(f"rise <= {format_number(self.max_rise_pct)}%")
        if self.min_repeats is not None:
            parts.append(f"min_repeats {self.min_repeats}")
        return ", ".join(parts)


def load_rules(path: str | Path) -> list[Rule]:
    """Rules of a thresholds file; a file named pyproject.toml is read as ``[tool.mlxbench]``."""
    path = Path(path)
    if path.name == "pyproject.toml":
        return rules_from_pyproject(path)
    data = _read_toml(path)
    for key in data:
        if key != "rule":
            raise BenchInputError(
                f"{path}: unknown top-level key {key!r}{_did_you_mean(key, ['rule'])};"
                " write each rule as a [[rule]] table"
            )
    rules = _parse_rules(data.get("rule"), str(path), "[[rule]]")
    if not rules:
        raise BenchInputError(f"{path}: no rules; add at least one [[rule]] table with a suite")
    return rules


def rules_from_pyproject(path: str | Path) -> list[Rule]:
    """Rules under ``[[tool.mlxbench.rule]]`` of a pyproject.toml; none is an empty list."""
    path = Path(path)
    table = _read_toml(path).get("tool", {}).get("mlxbench", {})
    source = f"{path} [tool.mlxbench]"
    for key in table:
        if key != "rule" and difflib.get_close_matches(key, ["rule"], cutoff=0.75):
            raise BenchInputError(
                f"{source}: unknown key {key!r} (did you mean 'rule'?);"
                " write each rule as a [[tool.mlxbench.rule]] table"
            )
    return _parse_rules(table.get("rule"), source, "[[tool.mlxbench.rule]]")


def _read_toml(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BenchInputError(f"thresholds file {path} does not exist; check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BenchInputError(f"cannot read thresholds file {path}: {exc}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BenchInputError(f"{path}: invalid TOML: {exc}") from None


def _parse_rules(tables: object, source: str, table_syntax: str) -> list[Rule]:
    if tables is None:
        return []
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise BenchInputError(f"{source}: rules must be an array of tables; write each one as {table_syntax}")
    return [_parse_rule(index, table, source) for index, table in enumerate(tables)]


def _parse_rule(index: int, table: dict, source: str) -> Rule:
    label = f"rule {index} ({table.get('suite', '?')}/{table.get('name', '*')})"

    def fail(problem: str) -> BenchInputError:
        return BenchInputError(f"{source}: {label}: {problem}")

    for key in table:
        if key not in RULE_KEYS:
            raise fail(f"unknown key {key!r}{_did_you_mean(key, RULE_KEYS)}")
    suite, suites = table.get("suite"), contract.suite_names()
    if suite is None:
        raise fail(f"missing 'suite'; set it to one of: {', '.join(suites)}")
    if suite not in suites:
        hint = _did_you_mean(str(suite), suites) or f" (known: {', '.join(suites)})"
        raise fail(f"unknown suite {suite!r}{hint}")
    for key in ("model", "name", "metric", "field"):
        if key in table and (not isinstance(table[key], str) or not table[key]):
            raise fail(f"{key!r} must be a non-empty string, got {table[key]!r}")
    field = table.get("field", "value")
    if field not in numeric_fields():
        raise fail(f"field {field!r} is not a numeric result field{_did_you_mean(field, numeric_fields())}")
    bounds = {key: _number(table, key, fail) for key in ("min", "max", "max_drop_pct", "max_rise_pct")}
    _check_bounds(bounds, fail)
    higher_is_better = table.get("higher_is_better")
    if higher_is_better is not None and not isinstance(higher_is_better, bool):
        raise fail(f"'higher_is_better' must be true or false, got {higher_is_better!r}")
    min_repeats = table.get("min_repeats")
    if min_repeats is not None and (isinstance(min_repeats, bool) or not isinstance(min_repeats, int) or min_repeats < 1):
        raise fail(f"'min_repeats' must be a whole number >= 1, got {min_repeats!r}")
    return Rule(
        index=index,
        source=source,
        suite=suite,
        model=table.get("model", "*"),
        name=table.get("name", "*"),
        metric=table.get("metric", "*"),
        field=field,
        higher_is_better=higher_is_better,
        min_repeats=min_repeats,
        **bounds,
    )


def _number(table: dict, key: str, fail) -> float | None:
    value = table.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise fail(f"{key!r} must be a finite number, got {value!r}")
    return float(value)


def _check_bounds(bounds: dict[str, float | None], fail) -> None:
    if all(value is None for value in bounds.values()):
        raise fail("no bound; set min, max, max_drop_pct or max_rise_pct")
    for key in ("max_drop_pct", "max_rise_pct"):
        if bounds[key] is not None and bounds[key] < 0:
            raise fail(f"{key!r} must be >= 0 (a percentage), got {format_number(bounds[key])}")
    low, high = bounds["min"], bounds["max"]
    if low is not None and high is not None and low > high:
        raise fail(f"min {format_number(low)} is above max {format_number(high)}")


def numeric_fields() -> tuple[str, ...]:
    """The numeric fields of a result row, per the envelope schema."""
    properties = contract.schema()["properties"]["results"]["items"]["properties"]
    return tuple(name for name, spec in properties.items() if spec.get("type") == "number")


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


# ---------------------------------------------------------------- direction

_RATE = re.compile(r"per_?sec|/s(?:ec(?:ond)?)?\b|throughput|\btps\b")
_HIGHER_WORDS = {"accuracy", "acc", "score", "ratio", "f1", "exact", "precision", "recall", "pass"}
_LOWER_WORDS = {
    "latency", "ttft", "duration", "time", "seconds", "second", "sec", "s", "ms", "us", "ns",
    "memory", "rss", "bytes", "kb", "mb", "gb", "mib", "gib",
}  # fmt: skip


def infer_higher_is_better(field: str, metric: str, unit: str) -> bool | None:
    """True/False when the direction is clear, None when unknown or contradictory.

    A named field speaks for itself; for ``value`` the unit and the metric vote.
    """
    if field != "value":
        return _direction_of(field)
    votes = {vote for vote in (_direction_of(unit), _direction_of(metric)) if vote is not None}
    return votes.pop() if len(votes) == 1 else None


def _direction_of(text: str) -> bool | None:
    text = text.strip().lower().replace(" ", "_")
    if _RATE.search(text):  # before the words: "tokens per second" is not a duration
        return True
    words = set(re.split(r"[^a-z0-9@]+", text))
    higher = bool(words & _HIGHER_WORDS) or any(word.startswith("pass@") for word in words)
    lower = bool(words & _LOWER_WORDS)
    return higher if higher != lower else None
