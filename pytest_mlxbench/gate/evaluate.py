"""Rules × envelopes → outcomes: one pass/fail verdict per rule and matched result.

A relative bound fails only when the change of the point values is past the limit AND the
current run is worse than the baseline run beyond the noise that ``evidence.compare`` can see;
where the evidence cannot judge, the limit alone decides and the outcome says so. Every outcome
names the evidence it used and that evidence's false-alarm rate. Baselines are matched by
(suite, model, name, metric): a run of another model is no baseline.
"""

from __future__ import annotations

import fnmatch
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from .evidence import Comparison, Run, compare, is_number, read_run
from .format import format_number, format_pct
from .rules import Rule, infer_higher_is_better

ResultKey = tuple[str, str, str, str]  # (suite, model, name, metric)
SampleKey = tuple[str, str, str, str, str]  # (suite, model, name, metric, field)


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


@dataclass(frozen=True)
class Outcome:
    """The verdict of one rule on one result; ``status`` is "passed", "failed" or "skipped".

    ``evidence`` says what the verdict rests on: the test that compared the runs and its
    false-alarm rate, or that the limit alone decided.
    """

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
    current_range: tuple[float, float] | None = None  # the range of the run's repeats, if it has any
    baseline_range: tuple[float, float] | None = None
    evidence: str = ""

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
        and any(is_number(row.get(rule.field)) for row in rows)
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
    checks = _Checks(rule, f"{suite}/{name} [{model}] {rule.field}",
                     read_run(rows, rule.field, context.current_samples.get(sample_key, ())))
    baseline = None
    if rule.is_relative:
        higher_is_better = _relative_direction(rule, rows[0], checks.where)
        _require_baseline_run(rule, suite, model, context)
        baseline_rows = context.baseline.get(key)
        if baseline_rows and _deployment(baseline_rows) != _deployment(rows):
            checks.failures.append(f"the baseline ran on {_deployment(baseline_rows)}, this run on {_deployment(rows)}: "
                                   "runs on different deployments are not compared; record a baseline on this one")
        elif baseline_rows and any(is_number(row.get(rule.field)) for row in baseline_rows):
            baseline = read_run(baseline_rows, rule.field, context.baseline_samples.get(sample_key, ()))
            checks.relative(baseline, higher_is_better)
        else:
            checks.note_new_result()
    else:
        checks.absolute_only()
    return checks.outcome(key, baseline)


def _deployment(rows: list[dict]) -> str:
    """How the server was deployed (the ``topology`` tag of a server across ranks, e.g.
    ``tensor/ring/2:mac-a,mac-b``), so runs on different topologies are never compared silently."""
    topologies = sorted({str(row.get("tags", {}).get("topology", "")) for row in rows})
    return ", ".join(topology or "one process" for topology in topologies)


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

    def __init__(self, rule: Rule, where: str, current: Run):
        self.rule, self.where, self.current = rule, where, current
        self.failures: list[str] = []
        self.notes: list[str] = []
        self.evidence = ""
        self.allowed_low, self.allowed_high = rule.min, rule.max
        self.change_pct: float | None = None
        self.relative_only_unchecked = False
        value = current.value
        if rule.min is not None and value < rule.min:
            self.failures.append(f"current {format_number(value)} is below min {format_number(rule.min)}")
        if rule.max is not None and value > rule.max:
            self.failures.append(f"current {format_number(value)} is above max {format_number(rule.max)}")

    def absolute_only(self) -> None:
        count, unit = self.current.measurements()
        self.evidence = f"the current value ({count} {_plural(unit, count)})"
        self._require_repeats(count, None, unit)

    def relative(self, baseline: Run, higher_is_better: bool) -> None:
        current = self.current
        self.change_pct = change = change_pct(current.value, baseline.value)
        limit_pct = self.rule.max_drop_pct if higher_is_better else self.rule.max_rise_pct
        self._narrow_allowed(baseline.value, limit_pct, higher_is_better)
        comparison = compare(current, baseline, higher_is_better)
        self.evidence = comparison.evidence
        if not self._require_repeats(*comparison.counts, comparison.unit):
            return
        if self.rule.min_repeats is not None and comparison.worse is None:  # a rule that asks not to guess
            self.failures.append(f"not enough {comparison.unit} to judge ({comparison.detail});"
                                 f" the rule sets min_repeats, so the limit alone may not decide")
            return
        worse_by = -change if higher_is_better else change
        if worse_by > limit_pct:
            self._judge(comparison, limit_pct, higher_is_better, baseline)

    def _judge(self, comparison: Comparison, limit_pct: float, higher_is_better: bool, baseline: Run) -> None:
        text = (
            f"current {format_number(self.current.value)} vs baseline {format_number(baseline.value)}"
            f" ({format_pct(self.change_pct)}), limit {'drop' if higher_is_better else 'rise'}"
            f" <= {format_number(limit_pct)}%"
        )
        if comparison.worse is None:
            self.failures.append(f"{text}, and the noise cannot be judged ({comparison.detail})")
        elif comparison.worse:
            self.failures.append(f"{text}; beyond run noise ({comparison.detail})")
        else:
            self.notes.append(f"{text} but within run noise ({comparison.detail}): not counted as a regression")

    def _require_repeats(self, current: int, baseline: int | None, unit: str) -> bool:
        """min_repeats: too few measurements fail the rule, whatever the values say."""
        needed = self.rule.min_repeats
        if needed is None or (current >= needed and (baseline is None or baseline >= needed)):
            return True
        counts = f"current {current}" + ("" if baseline is None else f", baseline {baseline}")
        self.failures.append(f"not enough {unit} to judge ({counts}); the rule needs min_repeats = {needed}")
        return False

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

    def outcome(self, key: ResultKey, baseline: Run | None) -> Outcome:
        if self.failures:
            status, detail = "failed", "; ".join(self.failures + self.notes)
        elif self.relative_only_unchecked:
            status, detail = "skipped", "; ".join(self.notes)
        else:
            status, detail = "passed", "; ".join(self.notes) or self._within_limits(baseline)
        evidence = f"; evidence: {self.evidence}" if self.evidence else ""
        suite, model, name, metric = key
        return Outcome(
            id="", rule=self.rule, suite=suite, model=model, name=name, metric=metric,
            field=self.rule.field, current=self.current.value,
            baseline=baseline.value if baseline else None, change_pct=self.change_pct,
            limit=self.rule.describe_limits(), status=status,
            message=f"{self.where}: {detail}{evidence} [{self.rule.label}]",
            allowed_low=self.allowed_low, allowed_high=self.allowed_high,
            current_range=_repeat_range(self.current), baseline_range=_repeat_range(baseline),
            evidence=self.evidence,
        )  # fmt: skip

    def _within_limits(self, baseline: Run | None) -> str:
        current = f"current {format_number(self.current.value)}"
        if baseline is not None:
            current += f" vs baseline {format_number(baseline.value)} ({format_pct(self.change_pct)})"
        return f"{current} within {self.rule.describe_limits()}"


def _repeat_range(run: Run | None) -> tuple[float, float] | None:
    return None if run is None else (run.low, run.high)


def _plural(unit: str, count: int) -> str:
    return unit if count != 1 else unit.removesuffix("s")


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
