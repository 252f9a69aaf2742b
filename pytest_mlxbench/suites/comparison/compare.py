"""Model runs -> the comparison's rows, per-case disagreements and notes (pure: no files, no clock).

Rows (names read ``<suite>:<headline>[<label>]``, so no two rows share a result key):

* one per (model, suite, headline): the value with its own interval (exact binomial for a pass
  rate, bootstrap percentile for a median or mean of repeats or requests; none below
  ``stats.BOOTSTRAP_MIN_PAIRS``);
* one per (model other than the first, suite, headline), metric ``difference``: that model minus
  the reference (the first model) on the same cases, repeats or requests, with a 95% interval,
  the p-value and the test (``mcnemar-exact`` or ``paired-bootstrap``), the number paired, and a
  verdict: ``better``, ``worse`` or ``no detectable difference at <n> <cases>`` when the interval
  holds 0 (never a win);
* one per answer-checked suite, ``min_detectable_difference``: the smallest gap in pass rates the
  comparison would find with 80% power, the largest over the pairs;
* per model: load time per backend and the peak RSS over its suites.

Whatever differs between two models' runs besides the model (generation settings, seed, suite
code, machine, case set) is a note and the pair row's ``differs`` tag: never mixed silently.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

from pytest_mlxbench.suites.comparison import stats
from pytest_mlxbench.suites.comparison.headlines import Headline, headlines
from pytest_mlxbench.suites.comparison.runs import ModelRun, SuiteRun
from pytest_mlxbench.suites.rows import result_row

SYSTEM_KEYS = ("os", "chip", "memory_gb")


@dataclass
class Comparison:
    rows: list[dict] = field(default_factory=list)
    samples: list[dict] = field(default_factory=list)  # per-case disagreements
    notes: list[str] = field(default_factory=list)


def compare_runs(runs: list[ModelRun]) -> Comparison:
    """Every model against the first (the reference)."""
    found = {run.label: {suite: {head.name: head for head in headlines(suite, data.envelope, data.cases)}
                         for suite, data in run.suites.items()} for run in runs}
    result = Comparison()
    for run in runs:
        result.rows += _model_rows(run, found[run.label])
    reference = runs[0]
    detectable: dict[str, list[tuple[float, str, int, float]]] = {}
    for other in runs[1:]:
        for suite in sorted(set(found[reference.label]) | set(found[other.label])):
            _compare_suite(suite, reference, other, found, result, detectable)
    result.rows += [_detectable_row(suite, entries) for suite, entries in sorted(detectable.items())]
    return result


def _compare_suite(suite: str, reference: ModelRun, other: ModelRun, found: dict, result: Comparison,
                   detectable: dict) -> None:
    ours, theirs = found[reference.label].get(suite), found[other.label].get(suite)
    if not ours or not theirs:
        missing = reference if not ours else other
        result.notes.append(f"{suite}: {missing.label} has no {suite} numbers, so {other.label} is not compared "
                            f"with {reference.label} on it")
        return
    differs = settings_differences(reference.suites[suite], other.suites[suite], reference.label, other.label)
    result.notes += [f"{suite}, {other.label} vs {reference.label}: {text}" for text in differs.values()]
    for name in sorted(set(ours) | set(theirs)):
        if name not in ours or name not in theirs:
            holder = reference if name in ours else other
            result.notes.append(f"{suite}: {name} was measured for {holder.label} only; not compared")
            continue
        row, mdd = _pair_row(ours[name], theirs[name], reference, other, differs)
        result.rows.append(row)
        if mdd is not None:
            result.samples += _disagreements(suite, reference, other, ours[name], theirs[name])
            detectable.setdefault(suite, []).append(mdd)


def _model_rows(run: ModelRun, found: dict[str, dict[str, Headline]]) -> list[dict]:
    rows = []
    base = {"role": "model", "model": run.label, "model_name": run.model, "source": run.source}
    for suite, heads in sorted(found.items()):
        envelope = run.suites[suite].envelope
        for head in heads.values():
            tags = {**base, "suite": suite, "headline": head.name, "n": head.count, "n_of": head.unit_word,
                    "run": f"{envelope['timestamp']} {envelope['git_sha'][:12]}", **head.tags,
                    **_interval_tags(head)}
            rows.append(result_row(f"{suite}:{head.name}[{run.label}]", head.metric, head.value, head.unit, tags))
    for backend, seconds in sorted(run.load_seconds.items()):
        rows.append(result_row(f"model:load_{backend}[{run.label}]", "load_time", seconds, "seconds",
                               {**base, "backend": backend}, duration_seconds=seconds))
    peak = run.peak_rss_mb()
    if peak is not None:
        rows.append(result_row(f"model:peak_rss[{run.label}]", "memory", peak, "MB",
                               {**base, "note": "largest peak RSS of the pytest process or managed server"},
                               peak_rss_mb=peak))
    return rows


def _interval_tags(head: Headline) -> dict:
    if head.outcomes is not None:
        low, high = stats.clopper_pearson(sum(head.outcomes.values()), len(head.outcomes))
        return {"ci_low": low, "ci_high": high, "interval": "clopper-pearson 95%"}
    bounds = stats.bootstrap_interval(head.values, head.statistic, seed=_seed(head.suite, head.name))
    if bounds is None:
        return {"interval": f"none: fewer than {stats.BOOTSTRAP_MIN_PAIRS} {head.unit_word}"} if head.values else {}
    return {"ci_low": bounds[0], "ci_high": bounds[1], "interval": f"bootstrap percentile 95% of the {head.statistic}"}


def _pair_row(ours: Headline, theirs: Headline, reference: ModelRun, other: ModelRun,
              differs: dict[str, str]) -> tuple[dict, tuple]:
    tags = {"role": "difference", "suite": ours.suite, "headline": ours.name, "model": other.label,
            "reference": reference.label, "alpha": stats.ALPHA}
    mdd = None
    if ours.outcomes is not None and theirs.outcomes is not None:
        shared = sorted(set(ours.outcomes) & set(theirs.outcomes))
        reference_only = sum(ours.outcomes[case] and not theirs.outcomes[case] for case in shared)
        other_only = sum(theirs.outcomes[case] and not ours.outcomes[case] for case in shared)
        if shared:
            difference = stats.paired_proportions(reference_only, other_only, len(shared))
            share = (reference_only + other_only) / len(shared)
            mdd = (stats.min_detectable_difference(len(shared), share), f"{other.label} vs {reference.label}",
                   len(shared), share)
            tags["min_detectable_difference"] = mdd[0]
        else:
            difference = stats.Difference(theirs.value - ours.value, None, None, None, 0, "mcnemar-exact")
            tags["note"] = "no case ids in common: not tested"
        tags.update(reference_only=reference_only, model_only=other_only)
    elif ours.values and theirs.values:
        difference = stats.paired_bootstrap(ours.values, theirs.values, ours.statistic,
                                            seed=_seed(ours.suite, ours.name, other.label, reference.label))
        tags["statistic"] = ours.statistic
        if ours.value:
            tags["diff_pct"] = round(difference.value / ours.value * 100, 2)
    else:
        difference = stats.Difference(theirs.value - ours.value, None, None, None, 0, "none")
        tags["note"] = "no per-case or per-repeat data on one side: not tested"
    tags.update(test=difference.test, n=difference.pairs, n_of=ours.unit_word,
                verdict=verdict(difference, ours.higher_is_better, ours.unit_word))
    if difference.low is not None:
        tags.update(ci_low=difference.low, ci_high=difference.high, p_value=difference.p_value)
    if differs:
        tags["differs"] = ",".join(differs)
    name = f"{ours.suite}:{ours.name}[{other.label} vs {reference.label}]"
    return result_row(name, "difference", difference.value, ours.unit, tags), mdd


def verdict(difference: stats.Difference, higher_is_better: bool, unit_word: str) -> str:
    if difference.low is None:
        if difference.test == "none":
            return "not tested"
        return f"too few {unit_word} ({difference.pairs}) to tell"
    if not difference.significant:
        return f"no detectable difference at {difference.pairs} {unit_word}"
    return "better" if (difference.value > 0) == higher_is_better else "worse"


def _detectable_row(suite: str, entries: list[tuple]) -> dict:
    value, pair, cases, share = max(entries)
    points = round(value * 100, 1)
    tags = {"role": "min_detectable_difference", "suite": suite, "pair": pair, "n": cases, "n_of": "cases",
            "discordant_share": share, "power": stats.POWER, "alpha": stats.ALPHA,
            "note": f"with {cases} cases a gap below ~{points:g} points cannot be told from noise"}
    return result_row(f"{suite}:min_detectable_difference", "min_detectable_difference", value, "ratio", tags)


def _disagreements(suite: str, reference: ModelRun, other: ModelRun, ours: Headline, theirs: Headline) -> list[dict]:
    ours_cases, theirs_cases = reference.suites[suite].cases or {}, other.suites[suite].cases or {}
    lines = []
    for case in sorted(set(ours.outcomes) & set(theirs.outcomes)):
        if ours.outcomes[case] == theirs.outcomes[case]:
            continue
        lines.append({"suite": suite, "case": case, "reference": reference.label, "model": other.label,
                      "reference_passed": ours.outcomes[case], "model_passed": theirs.outcomes[case],
                      "reference_kind": ours_cases.get(case, {}).get("kind"),
                      "model_kind": theirs_cases.get(case, {}).get("kind")})
    return lines


def settings_differences(ours: SuiteRun, theirs: SuiteRun, our_label: str, their_label: str) -> dict[str, str]:
    """What differs between two runs of one suite besides the model: key -> one line."""
    a, b = ours.envelope, theirs.envelope
    found = {}
    for key, what in (("gen_kwargs", "generation settings"), ("seed", "seed")):
        if a.get(key) != b.get(key):
            found[key] = f"{what} differ: {our_label} {a.get(key)}, {their_label} {b.get(key)}"
    if a["git_sha"] != b["git_sha"]:
        found["git_sha"] = (f"suite code at different commits ({a['git_sha'][:12]} vs {b['git_sha'][:12]}): "
                            "prompts and data may differ")
    machine = [tuple(envelope["system"].get(key) for key in SYSTEM_KEYS) for envelope in (a, b)]
    if machine[0] != machine[1]:
        found["system"] = f"measured on different machines ({_machine(machine[0])} vs {_machine(machine[1])})"
    if ours.cases is not None and theirs.cases is not None and set(ours.cases) != set(theirs.cases):
        shared = len(set(ours.cases) & set(theirs.cases))
        found["cases"] = (f"different cases: {our_label} {len(ours.cases)}, {their_label} {len(theirs.cases)}; "
                          f"paired tests use the {shared} shared")
    return found


def _machine(values: tuple) -> str:
    os_name, chip, memory = values
    return f"{chip}, {memory} GB, {os_name}"


def _seed(*parts: str) -> int:
    """A stable seed per comparison: the same data give the same interval in every run."""
    return zlib.crc32(":".join(parts).encode())
