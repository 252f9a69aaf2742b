"""The numbers a comparison puts side by side: each suite's headline metrics, with what pairs them.

* Answer-checked suites (every suite but the timing ones): the pass rate over the cases that got
  a verdict (passed, or the model's wrong answer; harness errors and skips are left out and
  counted), with each case's pass/fail for McNemar's test. An earlier envelope written without
  per-case outcomes falls back to its first ratio row, which can be shown but not tested.
* Timing suites: the rows named in ``TIMING_HEADLINES`` whose individual repeats (``samples``
  tag) or requests (``request_samples``) are in the envelope, for the paired bootstrap; repeat or
  request i of one model is paired with i of the other (the same prompt, when the tokenizers agree).
"""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass, field

from pytest_mlxbench.records import TIMING_SUITES

TIMING_HEADLINES = {
    "throughput": ("decode_*", "prefill_*"),
    "ttft": ("ttft_p50", "e2e_latency_p50", "decode"),
}
PASS_RATE = "pass_rate"
CENTRAL = {None: "median", "p50": "median", "median": "median", "mean": "mean"}


@dataclass(frozen=True)
class Headline:
    suite: str
    name: str
    metric: str
    unit: str
    value: float
    higher_is_better: bool
    outcomes: dict[str, bool] | None = None  # case id -> passed
    values: tuple[float, ...] = ()  # repeats or requests, paired by index
    unit_word: str = "cases"  # what ``values`` or ``outcomes`` count
    statistic: str = "median"
    tags: dict = field(default_factory=dict)

    @property
    def count(self) -> int:
        return len(self.outcomes) if self.outcomes is not None else len(self.values)


def headlines(suite: str, envelope: dict, cases: dict[str, dict] | None) -> list[Headline]:
    if cases is not None and suite not in TIMING_SUITES:
        return _pass_rate(suite, cases)
    if envelope.get("skipped"):
        return []
    if suite in TIMING_SUITES:
        return _timing_headlines(suite, envelope)
    return _first_ratio(suite, envelope)


def _pass_rate(suite: str, cases: dict[str, dict]) -> list[Headline]:
    outcomes = {case: data["outcome"] == "passed" for case, data in cases.items()
                if data.get("outcome") in ("passed", "wrong")}
    if not outcomes:
        return []
    left_out = {kind: sum(data.get("outcome") == kind for data in cases.values()) for kind in ("error", "skipped")}
    tags = {"cases": len(outcomes), "harness_errors": left_out["error"], "skipped": left_out["skipped"]}
    value = sum(outcomes.values()) / len(outcomes)
    return [Headline(suite, PASS_RATE, "accuracy", "ratio", value, True, outcomes=outcomes, tags=tags)]


def _first_ratio(suite: str, envelope: dict) -> list[Headline]:
    for row in envelope.get("results", []):
        if row.get("unit") == "ratio" and _finite(row.get("value")):
            return [Headline(suite, row["name"], row["metric"], "ratio", row["value"], True,
                             tags={"note": "no per-case outcomes in this envelope: shown, not tested"})]
    return []


def _timing_headlines(suite: str, envelope: dict) -> list[Headline]:
    chosen = []
    for row in envelope.get("results", []):
        if not any(fnmatch.fnmatchcase(row["name"], pattern) for pattern in TIMING_HEADLINES.get(suite, ())):
            continue
        tags = row.get("tags") or {}
        values, unit_word = _numbers(tags.get("samples")), "repeats"
        if not values:
            values, unit_word = _numbers(tags.get("request_samples")), "requests"
        statistic = CENTRAL.get(tags.get("request_statistic"))
        if statistic is None or not _finite(row.get("value")):
            continue
        carried = {key: tags[key] for key in ("prompt_tokens", "gen_tokens") if key in tags}
        chosen.append(Headline(suite, row["name"], row["metric"], row["unit"], row["value"], _higher_is_better(row),
                               values=values, unit_word=unit_word, statistic=statistic, tags=carried))
    return chosen


def _higher_is_better(row: dict) -> bool:
    from pytest_mlxbench.gate import infer_higher_is_better

    direction = infer_higher_is_better("value", row["metric"], row["unit"])
    return True if direction is None else direction


def _numbers(text: str | None) -> tuple[float, ...]:
    try:
        values = tuple(float(part) for part in (text or "").split(",") if part.strip())
    except ValueError:
        return ()
    return values if all(math.isfinite(value) for value in values) else ()


def _finite(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
