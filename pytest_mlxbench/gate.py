"""Thresholds and baselines: turn result envelopes into pass/fail outcomes.

Rules are ``[[rule]]`` tables in a TOML file, or ``[[tool.mlxbench.rule]]`` in pyproject.toml.
Each rule selects result rows of one suite (``model``, ``name`` and ``metric`` are globs) and
bounds one numeric field of them: absolutely (``min``/``max``) or relative to a baseline run
(``max_drop_pct``/``max_rise_pct``).

Direction. Whether higher or lower is better is inferred from the field name, or for the field
``value`` from the row's unit and metric (``higher_is_better`` overrides). ``max_drop_pct`` bounds
a fall and ``max_rise_pct`` a rise, literally; a relative bound that points at the better
direction (a ``max_drop_pct`` on a latency, where a fall is an improvement) would never fire, so
it is a rule error that says which key to use instead.

Noise. A relative bound fails only when the change of the point values is past the limit AND the
current run is clearly worse than the baseline run:
- when both runs carry individual repeats in numbers that let the exact one-sided Mann-Whitney U
  test reach ``ALPHA`` at all (1 / C(n+m, n) <= ALPHA, e.g. 3 and 3), that test decides;
- otherwise the ranges of the two runs must not overlap, the current one lying entirely on the
  worse side. A run's range is [min, max] of its repeats: the ``samples`` given to ``evaluate``,
  rows repeated with the same (name, metric), the ``samples`` tag (comma-separated repeats), or
  the tags ``min``/``max`` (which describe
  ``value``, and any field equal to it) or ``<field>_min``/``<field>_max``. A run without any
  repeat information is a single point, so then the limit alone decides.
With 3 repeats per run the two tests agree: complete separation is the only outcome the U test
calls significant at 5 %. Identical runs never fail each other (their ranges overlap, U is
central).

Baselines are matched by (suite, model, name, metric): a run of another model is no baseline.
"""

from __future__ import annotations

import difflib
import fnmatch
import math
import re
import statistics
import tomllib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

from pytest_mlxbench import envelope as contract
from pytest_mlxbench.errors import BenchInputError

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
)
ALPHA = 0.05

ResultKey = tuple[str, str, str, str]  # (suite, model, name, metric)
SampleKey = tuple[str, str, str, str, str]  # (suite, model, name, metric, field)


# ---------------------------------------------------------------- rules


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
    return Rule(
        index=index,
        source=source,
        suite=suite,
        model=table.get("model", "*"),
        name=table.get("name", "*"),
        metric=table.get("metric", "*"),
        field=field,
        higher_is_better=higher_is_better,
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


# ---------------------------------------------------------------- baselines


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def result_key(envelope: dict, row: dict) -> ResultKey:
    """The identity of a result across runs: (suite, model, name, metric)."""
    return (envelope["suite"], envelope["model"], row["name"], row["metric"])


def index_results(envelopes: Iterable[dict]) -> dict[ResultKey, list[dict]]:
    """Rows of measured (not skipped) envelopes by ``result_key``; repeated rows stay together."""
    index: dict[ResultKey, list[dict]] = {}
    for envelope in envelopes:
        if envelope.get("skipped"):
            continue
        for row in envelope.get("results", []):
            index.setdefault(result_key(envelope, row), []).append(row)
    return index


# ---------------------------------------------------------------- noise


@dataclass(frozen=True)
class Measurement:
    """A point value with the range of its run's repeats (low == high == value without repeats)."""

    value: float
    low: float
    high: float
    samples: tuple[float, ...] = ()


def measure(rows: Sequence[dict], field: str, extra_samples: Sequence[float] = ()) -> Measurement:
    """Measurement of ``field`` over rows that share one result key."""
    values = [float(row[field]) for row in rows if _is_number(row.get(field))]
    samples = (
        tuple(float(s) for s in extra_samples if _is_number(s))
        or (tuple(values) if len(values) > 1 else ())
        or (_tag_samples(rows[0], field) if len(rows) == 1 else ())
    )
    value = values[0] if len(values) == 1 else statistics.median(values)
    spread = [value, *samples]
    for row in rows:
        spread += [_tag_number(row, tag) for tag in _range_tags(row, field)]
    spread = [number for number in spread if number is not None]
    return Measurement(value, min(spread), max(spread), samples)


def _range_tags(row: dict, field: str) -> tuple[str, ...]:
    """Tags holding the range of ``field``: min/max describe ``value`` and any field equal to it."""
    tags = (f"{field}_min", f"{field}_max")
    return (*tags, "min", "max") if field == "value" or row.get(field) == row["value"] else tags


def _tag_samples(row: dict, field: str) -> tuple[float, ...]:
    """The repeats a suite listed in the ``samples`` tag (comma-separated; they describe ``value``)."""
    if field != "value" and row.get(field) != row["value"]:
        return ()
    try:
        samples = tuple(float(part) for part in str(row.get("tags", {})["samples"]).split(","))
    except (KeyError, TypeError, ValueError):
        return ()
    return samples if all(math.isfinite(sample) for sample in samples) else ()


def _tag_number(row: dict, tag: str) -> float | None:
    try:
        number = float(row.get("tags", {})[tag])
    except (KeyError, TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def clearly_worse(current: Measurement, baseline: Measurement, higher_is_better: bool) -> bool:
    """Whether ``current`` is worse than ``baseline`` beyond the noise of both runs."""
    n, m = len(current.samples), len(baseline.samples)
    if _mann_whitney_can_reject(n, m):
        return _mann_whitney_p_worse(current.samples, baseline.samples, higher_is_better) <= ALPHA
    if higher_is_better:
        return current.high < baseline.low
    return current.low > baseline.high


def _mann_whitney_can_reject(n: int, m: int) -> bool:
    """The smallest p-value of the exact test is 1 / C(n+m, n); below that it can never reject."""
    return n >= 1 and m >= 1 and 1 / math.comb(n + m, n) <= ALPHA


def _mann_whitney_p_worse(current: Sequence[float], baseline: Sequence[float], higher_is_better: bool) -> float:
    """One-sided p-value of "current tends to be worse than baseline"."""
    sign = 1 if higher_is_better else -1
    # u counts pairs where current is better (ties count half); a small u means current is worse.
    u = sum((sign * (c - b) > 0) + 0.5 * (c == b) for c in current for b in baseline)
    n, m = len(current), len(baseline)
    if n + m <= 30:  # exact counts stay small; beyond, the normal approximation is good
        limit = math.ceil(u)  # rounding ties up keeps the test conservative
        return sum(_u_count(n, m, k) for k in range(limit + 1)) / math.comb(n + m, n)
    mean, sd = n * m / 2, math.sqrt(n * m * (n + m + 1) / 12)
    return 0.5 * math.erfc((mean - (u + 0.5)) / (sd * math.sqrt(2)))


@cache
def _u_count(n: int, m: int, u: int) -> int:
    """Number of orderings of n current and m baseline values whose U statistic equals u."""
    if u < 0 or u > n * m:
        return 0
    if n == 0 or m == 0:
        return 1 if u == 0 else 0
    return _u_count(n - 1, m, u - m) + _u_count(n, m - 1, u)


# ---------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class Outcome:
    """The verdict of one rule on one result; ``status`` is "passed", "failed" or "skipped"."""

    id: str
    rule: Rule
    suite: str
    model: str
    name: str
    metric: str
    field: str
    current: float | None
    baseline: float | None
    change_pct: float | None
    limit: str
    status: str
    message: str
    allowed_low: float | None = None  # the value range the rule accepts (for plots)
    allowed_high: float | None = None
    current_range: tuple[float, float] | None = None
    baseline_range: tuple[float, float] | None = None

    @property
    def passed(self) -> bool:
        return self.status == "passed"


def evaluate(
    rules: Sequence[Rule],
    current: Sequence[dict],
    baseline: Sequence[dict] | None = None,
    *,
    current_samples: Mapping[SampleKey, Sequence[float]] | None = None,
    baseline_samples: Mapping[SampleKey, Sequence[float]] | None = None,
) -> list[Outcome]:
    """One outcome per (rule, matched result); rule errors raise ``BenchInputError``.

    ``*_samples`` map (suite, model, name, metric, field) to the individual repeats of a result.
    """
    context = _Context(
        current=index_results(current),
        baseline=index_results(baseline or []),
        current_samples=current_samples or {},
        baseline_samples=baseline_samples or {},
        measured_suites={env["suite"] for env in current if not env.get("skipped")},
        skipped_suites={env["suite"] for env in current if env.get("skipped")},
        baseline_models=_models_by_suite(baseline or []),
        has_baseline=baseline is not None,
    )
    outcomes = [outcome for rule in rules for outcome in _evaluate_rule(rule, context)]
    return _with_ids(outcomes)


@dataclass(frozen=True)
class _Context:
    current: dict[ResultKey, list[dict]]
    baseline: dict[ResultKey, list[dict]]
    current_samples: Mapping[SampleKey, Sequence[float]]
    baseline_samples: Mapping[SampleKey, Sequence[float]]
    measured_suites: set[str]
    skipped_suites: set[str]
    baseline_models: dict[str, set[str]]
    has_baseline: bool


def _models_by_suite(envelopes: Sequence[dict]) -> dict[str, set[str]]:
    models: dict[str, set[str]] = {}
    for envelope in envelopes:
        if not envelope.get("skipped"):
            models.setdefault(envelope["suite"], set()).add(envelope["model"])
    return models


def _evaluate_rule(rule: Rule, context: _Context) -> list[Outcome]:
    matches = [(key, rows) for key, rows in context.current.items() if _matches(rule, key, rows)]
    if matches:
        return [_evaluate_result(rule, key, rows, context) for key, rows in sorted(matches)]
    if rule.suite in context.skipped_suites and rule.suite not in context.measured_suites:
        return [_skipped_suite_outcome(rule)]
    if rule.suite not in context.measured_suites:
        raise rule.error(f"suite {rule.suite!r} has no results in this run; run it or remove the rule")
    available = sorted({f"{key[2]}/{key[3]}" for key in context.current if key[0] == rule.suite})
    raise rule.error(
        f"matches no measured result (model={rule.model!r}, name={rule.name!r}, metric={rule.metric!r},"
        f" field={rule.field!r}); this run has name/metric: {', '.join(available[:8])}"
    )


def _matches(rule: Rule, key: ResultKey, rows: list[dict]) -> bool:
    suite, model, name, metric = key
    return (
        suite == rule.suite
        and fnmatch.fnmatchcase(model, rule.model)
        and fnmatch.fnmatchcase(name, rule.name)
        and fnmatch.fnmatchcase(metric, rule.metric)
        and any(_is_number(row.get(rule.field)) for row in rows)
    )


def _skipped_suite_outcome(rule: Rule) -> Outcome:
    return Outcome(
        id="", rule=rule, suite=rule.suite, model=rule.model, name=rule.name, metric=rule.metric,
        field=rule.field, current=None, baseline=None, change_pct=None, limit=rule.describe_limits(),
        status="skipped", message=f"suite {rule.suite} was skipped in this run",
    )  # fmt: skip


def _evaluate_result(rule: Rule, key: ResultKey, rows: list[dict], context: _Context) -> Outcome:
    suite, model, name, _ = key
    sample_key = (*key, rule.field)
    current = measure(rows, rule.field, context.current_samples.get(sample_key, ()))
    where = f"{suite}/{name} [{model}] {rule.field}"
    checks = _Checks(rule, where, current)
    checks.absolute()
    baseline = None
    if rule.is_relative:
        higher_is_better = _relative_direction(rule, rows[0], where)
        _require_baseline_run(rule, suite, model, context)
        baseline_rows = context.baseline.get(key)
        if baseline_rows and any(_is_number(row.get(rule.field)) for row in baseline_rows):
            baseline = measure(baseline_rows, rule.field, context.baseline_samples.get(sample_key, ()))
            checks.relative(baseline, higher_is_better)
        else:
            checks.note_new_result()
    return checks.outcome(key, baseline)


def _relative_direction(rule: Rule, row: dict, where: str) -> bool:
    higher_is_better = rule.higher_is_better
    if higher_is_better is None:
        higher_is_better = infer_higher_is_better(rule.field, row["metric"], row["unit"])
    if higher_is_better is None:
        raise rule.error(
            f"cannot tell whether higher or lower is better for {where}"
            f" (metric {row['metric']!r}, unit {row['unit']!r}); set higher_is_better in the rule"
        )
    if higher_is_better and rule.max_rise_pct is not None:
        raise rule.error(
            f"max_rise_pct on {where}, where higher is better (a rise is an improvement);"
            " use max_drop_pct, or set higher_is_better = false"
        )
    if not higher_is_better and rule.max_drop_pct is not None:
        raise rule.error(
            f"max_drop_pct on {where}, where lower is better (a drop is an improvement);"
            " use max_rise_pct, or set higher_is_better = true"
        )
    return higher_is_better


def _require_baseline_run(rule: Rule, suite: str, model: str, context: _Context) -> None:
    if not context.has_baseline:
        raise rule.error("relative bound but no baseline given; pass a baseline envelope or directory")
    models = context.baseline_models.get(suite, set())
    if model not in models:
        found = f"only for {', '.join(sorted(models))}" if models else "none for this suite"
        raise rule.error(
            f"no baseline for suite {suite!r} with model {model!r} ({found});"
            " record a baseline with this model or drop the relative bound"
        )


class _Checks:
    """Collects the verdicts of one rule on one result."""

    def __init__(self, rule: Rule, where: str, current: Measurement):
        self.rule, self.where, self.current = rule, where, current
        self.failures: list[str] = []
        self.notes: list[str] = []
        self.allowed_low, self.allowed_high = rule.min, rule.max
        self.change_pct: float | None = None
        self.relative_only_unchecked = False

    def absolute(self) -> None:
        value = self.current.value
        if self.rule.min is not None and value < self.rule.min:
            self.failures.append(f"current {format_number(value)} is below min {format_number(self.rule.min)}")
        if self.rule.max is not None and value > self.rule.max:
            self.failures.append(f"current {format_number(value)} is above max {format_number(self.rule.max)}")

    def relative(self, baseline: Measurement, higher_is_better: bool) -> None:
        current = self.current
        self.change_pct = change = change_pct(current.value, baseline.value)
        limit_pct = self.rule.max_drop_pct if higher_is_better else self.rule.max_rise_pct
        self._narrow_allowed(baseline.value, limit_pct, higher_is_better)
        worse_by = -change if higher_is_better else change
        if worse_by <= limit_pct:
            return
        comparison = (
            f"current {format_number(current.value)} vs baseline {format_number(baseline.value)}"
            f" ({format_pct(change)}), limit {'drop' if higher_is_better else 'rise'}"
            f" <= {format_number(limit_pct)}%"
        )
        noise = _format_noise(current, baseline)
        if clearly_worse(current, baseline, higher_is_better):
            self.failures.append(f"{comparison}; beyond run noise ({noise})")
        else:
            self.notes.append(f"{comparison} but within run noise ({noise}): not counted as a regression")

    def _narrow_allowed(self, baseline: float, limit_pct: float, higher_is_better: bool) -> None:
        scale = abs(baseline) * limit_pct / 100
        if higher_is_better:
            bound = baseline - scale
            self.allowed_low = bound if self.allowed_low is None else max(self.allowed_low, bound)
        else:
            bound = baseline + scale
            self.allowed_high = bound if self.allowed_high is None else min(self.allowed_high, bound)

    def note_new_result(self) -> None:
        self.notes.append("no baseline row for this result (new result): relative bound not checked")
        self.relative_only_unchecked = self.rule.min is None and self.rule.max is None

    def outcome(self, key: ResultKey, baseline: Measurement | None) -> Outcome:
        if self.failures:
            status, detail = "failed", "; ".join(self.failures + self.notes)
        elif self.relative_only_unchecked:
            status, detail = "skipped", "; ".join(self.notes)
        else:
            status, detail = "passed", "; ".join(self.notes) or self._within_limits(baseline)
        suite, model, name, metric = key
        return Outcome(
            id="", rule=self.rule, suite=suite, model=model, name=name, metric=metric,
            field=self.rule.field, current=self.current.value,
            baseline=baseline.value if baseline else None, change_pct=self.change_pct,
            limit=self.rule.describe_limits(), status=status,
            message=f"{self.where}: {detail} [{self.rule.label}]",
            allowed_low=self.allowed_low, allowed_high=self.allowed_high,
            current_range=(self.current.low, self.current.high),
            baseline_range=(baseline.low, baseline.high) if baseline else None,
        )  # fmt: skip

    def _within_limits(self, baseline: Measurement | None) -> str:
        current = f"current {format_number(self.current.value)}"
        if baseline is not None:
            current += f" vs baseline {format_number(baseline.value)} ({format_pct(self.change_pct)})"
        return f"{current} within {self.rule.describe_limits()}"


def change_pct(current: float, baseline: float) -> float:
    """Change of current against baseline in percent of the baseline (infinite from a zero baseline)."""
    if baseline == 0:
        return 0.0 if current == 0 else math.copysign(math.inf, current)
    return (current - baseline) / abs(baseline) * 100


def _with_ids(outcomes: list[Outcome]) -> list[Outcome]:
    """Short ids ``suite::name::field::ruleN``, lengthened only where two outcomes would clash."""
    shapes = (
        lambda o: (o.suite, o.name, o.field, f"rule{o.rule.index}"),
        lambda o: (o.suite, o.name, o.metric, o.field, f"rule{o.rule.index}"),
        lambda o: (o.suite, o.model, o.name, o.metric, o.field, f"rule{o.rule.index}"),
    )
    counts = [Counter(shape(outcome) for outcome in outcomes) for shape in shapes]
    with_ids = []
    for outcome in outcomes:
        parts = next(
            (shape(outcome) for shape, count in zip(shapes, counts, strict=True) if count[shape(outcome)] == 1),
            shapes[-1](outcome),
        )
        with_ids.append(replace(outcome, id="::".join(parts)))
    return with_ids


# ---------------------------------------------------------------- formatting


def format_number(number: float | None) -> str:
    """Compact, human-readable number ("-" for none)."""
    return "-" if number is None else f"{number:.6g}"


def format_pct(change: float | None) -> str:
    """Signed percentage with one decimal ("-" for none)."""
    return "-" if change is None else f"{change:+.1f}%"


def _format_noise(current: Measurement, baseline: Measurement) -> str:
    if current.low == current.high and baseline.low == baseline.high:
        return "neither run has repeats to judge noise by"
    return f"current {_format_range(current)}, baseline {_format_range(baseline)}"


def _format_range(measurement: Measurement) -> str:
    if measurement.low == measurement.high:
        return f"{format_number(measurement.value)} (no repeats)"
    return f"{format_number(measurement.low)}..{format_number(measurement.high)}"
