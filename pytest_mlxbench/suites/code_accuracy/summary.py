"""Result rows of the code-accuracy suite, computed from its sample log (pure: no model, no sandbox).

One sample per drawn completion, as the suite records it::

    {"task_id", "sample": int | None, "dataset", "samples_per_problem", "temperature", "isolation",
     "protections", "protection_notes", "seed", "reply", "finish_reason", "code", "verdict", "detail",
     "stderr_tail", "run_s", "timeout_s", "latency_s", "usage", "error", "problem_duration_s"}

``verdict`` is one of :data:`VERDICTS` (the sandbox's six, plus ``no_code`` when the reply held no
code). ``isolation`` says how the verdict was reached: ``judge`` (the tests ran in the sandbox's
judge process) or ``in_process`` (the problem's tests cannot be served through the judge, so they
ran in the candidate's own process, the weaker way); ``protections`` lists the sandbox's
protections in force and ``protection_notes`` what is missing and why. A harness error (the request failed, or the problem's canonical solution failed in the
sandbox) is recorded with ``verdict`` None and an ``error``; such a problem is left out of pass@k,
of the verdict counts, of latency and of decode rate, and counted in ``harness_errors``.

Rows, in this order (the first ones are the terminal's headline):

* ``pass@1``, ``pass@10``, ``pass@100`` (metric ``pass@k``, unit ``ratio``): the unbiased estimator
  1 - C(n-c, k)/C(n, k) per problem (n samples, c of them passed), averaged over the problems with
  n >= k; a row only for the k that some problem allows;
* ``verdict_<kind>`` for every kind of :data:`VERDICTS`, zeros included (unit ``count``, over samples;
  timeouts are their own kind, never counted as failures);
* ``harness_errors``: problems that could not be scored (unit ``count``);
* ``verdicts_in_process``: scored samples whose verdict was reached in process (unit ``count``);
* ``latency_p50``, ``latency_p95``, ``latency_mean``: generation latency per request in seconds
  (request sent to full reply received; not streamed, so prompt processing is included);
* ``total_duration``: the problems' wall-clock time summed (canonical check, generation, sandbox);
  also the ``duration_seconds`` of the pass@k rows. When a problem recorded no duration, there is
  no such row and no such field (never a 0.0 standing in): the pass@k rows' ``duration_missing``
  tag names the problems instead;
* ``decode``: usage completion tokens summed over the requests that report them, divided by the
  summed latency of those requests (a lower bound of the pure decode rate). Left out without usage.

Every row carries tags: dataset, samples per problem, temperature, isolation (``judge``,
``in_process`` or both), the sandbox's protections (and ``protection_notes`` when some are
missing), problem counts.
"""

from __future__ import annotations

import dataclasses
from collections import Counter

from pytest_mlxbench.suites.code_accuracy.extraction import mean_pass_at_k
from pytest_mlxbench.suites.rows import decode_rows, is_number, latency_rows, result_row

VERDICTS = ("passed", "failed", "error", "timeout", "killed", "unencodable", "no_code")
PASS_AT_K = (1, 10, 100)
LATENCY_PERCENTILES = (50, 95)
ESTIMATOR = "unbiased 1 - C(n-c,k)/C(n,k) per problem (Chen et al. 2021), mean over problems"


def bench_summarize(samples: list[dict]) -> list[dict]:
    """The suite's aggregate rows from its samples (see the module docstring)."""
    log = ScoredLog.of(samples)
    return [
        *pass_at_k_rows(log.scored, log.pass_tags, log.duration),
        *verdict_rows(log.samples, log.tags),
        log.harness_error_row(),
        result_row("verdicts_in_process", "verdicts", sum(s.get("isolation") == "in_process" for s in log.samples),
                   "count", log.tags),
        *log.timing_rows(),
    ]


@dataclasses.dataclass(frozen=True)
class ScoredLog:
    """A code suite's sample log by problem: those scored (no harness error) and their samples, the
    tags every row carries, and the problems' summed wall-clock time (shared with evalplus's summary)."""

    problems: dict[str, list[dict]]
    scored: dict[str, list[dict]]
    samples: list[dict]
    tags: dict[str, str]
    total_s: float
    untimed: list[str]

    @classmethod
    def of(cls, samples: list[dict]) -> ScoredLog:
        problems = samples_by_problem(samples)
        scored = {task_id: group for task_id, group in problems.items() if not has_harness_error(group)}
        total_s, untimed = total_duration(problems)
        return cls(problems, scored, [sample for group in scored.values() for sample in group],
                   common_tags(samples, len(problems), len(scored)), total_s, untimed)

    @property
    def duration(self) -> dict:
        return {"duration_seconds": self.total_s} if not self.untimed else {}

    @property
    def pass_tags(self) -> dict[str, str]:
        return {**self.tags, **missing_duration_tags(self.untimed, len(self.problems))}

    def harness_error_row(self) -> dict:
        return result_row("harness_errors", "errors", len(self.problems) - len(self.scored), "count", self.tags)

    def timing_rows(self) -> list[dict]:
        """Latency, the total duration (when every problem recorded one) and the decode rate."""
        total = [result_row("total_duration", "duration", self.total_s, "seconds", self.tags, **self.duration)]
        return [*latency_rows(self.samples, LATENCY_PERCENTILES, self.tags, mean=True),
                *(total if self.duration else []), *decode_rows(self.samples, self.tags)]


def samples_by_problem(samples: list[dict]) -> dict[str, list[dict]]:
    problems: dict[str, list[dict]] = {}
    for sample in samples:
        problems.setdefault(str(sample["task_id"]), []).append(sample)
    return problems


def has_harness_error(group: list[dict]) -> bool:
    return any(sample.get("error") or sample.get("verdict") is None for sample in group)


def common_tags(samples: list[dict], problems: int, scored: int) -> dict[str, str]:
    tags = {
        "dataset": _distinct(sample.get("dataset") for sample in samples) or "unknown",
        "samples_per_problem": _distinct(sample.get("samples_per_problem") for sample in samples) or "unknown",
        "temperature": _distinct(sample.get("temperature") for sample in samples) or "unknown",
        "isolation": _distinct(sample.get("isolation") for sample in samples) or "unknown",
        "protections": _distinct(sample.get("protections") for sample in samples) or "unknown",
        "problems": str(problems),
        "scored_problems": str(scored),
    }
    notes = _distinct(sample.get("protection_notes") for sample in samples)
    if notes:
        tags["protection_notes"] = notes
    return tags


def _distinct(values) -> str:
    return ",".join(dict.fromkeys(str(value) for value in values if value not in (None, "")))


def pass_at_k_rows(scored: dict[str, list[dict]], tags: dict[str, str], duration: dict,
                   passed=lambda sample: sample["verdict"] == "passed", suffix: str = "") -> list[dict]:
    """``pass@<k><suffix>`` rows, counting the samples ``passed`` accepts."""
    counts = [(len(group), sum(bool(passed(sample)) for sample in group)) for group in scored.values()]
    rows = []
    for k in PASS_AT_K:
        value = mean_pass_at_k(counts, k)
        if value is None:
            continue
        eligible = [(n, c) for n, c in counts if n >= k]
        row_tags = {**tags, "k": str(k), "estimator": ESTIMATOR, "problems_with_k": str(len(eligible)),
                    "problems_solved": str(sum(c > 0 for _, c in eligible))}
        rows.append(result_row(f"pass@{k}{suffix}", "pass@k", value, "ratio", row_tags, **duration))
    return rows


def verdict_rows(scored_samples: list[dict], tags: dict[str, str]) -> list[dict]:
    counts = Counter(sample["verdict"] for sample in scored_samples)
    unknown = set(counts) - set(VERDICTS)
    if unknown:
        raise ValueError(f"samples carry unknown verdicts {sorted(map(str, unknown))}")
    return [result_row(f"verdict_{kind}", "verdicts", counts[kind], "count", tags) for kind in VERDICTS]


def total_duration(problems: dict[str, list[dict]]) -> tuple[float, list[str]]:
    """Each problem's wall-clock time once (every sample of a problem carries the same value),
    summed, and the problems that recorded none."""
    durations = {task_id: next((s["problem_duration_s"] for s in group if is_number(s.get("problem_duration_s"))), None)
                 for task_id, group in problems.items()}
    untimed = [task_id for task_id, seconds in durations.items() if seconds is None]
    return float(sum(seconds for seconds in durations.values() if seconds is not None)), untimed


def missing_duration_tags(untimed: list[str], problems: int) -> dict[str, str]:
    if not untimed:
        return {}
    named = ", ".join(untimed[:5]) + (", ..." if len(untimed) > 5 else "")
    return {"duration_missing": f"{len(untimed)} of {problems} problems recorded no duration ({named}):"
                                " the total time is unknown"}
