"""Result rows of the evalplus suite, computed from its sample log (pure: no model, no sandbox).

A sample is code-accuracy's (see ``code_accuracy.summary``) with ``base_passed``, ``plus_passed``,
``first_failure`` (``{"stage", "index"}`` or None) and ``inputs_left_out`` (the task's inputs
without an expected output, with the reason). Rows, in this order:

* ``pass@1_base``, ``pass@1_plus``, then ``pass@10_*`` and ``pass@100_*`` where the samples allow
  (metric ``pass@k``, unit ``ratio``): the unbiased estimator over the samples that passed every base
  input, and every base and plus input (EvalPlus's "base tests" and "base + extra tests");
* ``verdict_<kind>`` for code-accuracy's kinds (the verdict of the run that stopped at the first failure);
* ``first_failure_base``, ``first_failure_plus``: samples whose first failing test was a base or a
  plus input (unit ``count``);
* ``inputs_left_out``: inputs of the scored tasks without an expected output (``count``; tagged with
  the first few and why);
* ``harness_errors``, latency, ``total_duration``, ``decode`` as code-accuracy reports them.
"""

from __future__ import annotations

from pytest_mlxbench.suites.code_accuracy.summary import (
    LATENCY_PERCENTILES,
    PASS_AT_K,
    common_tags,
    has_harness_error,
    missing_duration_tags,
    pass_at_k_rows,
    samples_by_problem,
    total_duration,
    verdict_rows,
)
from pytest_mlxbench.suites.rows import decode_rows, latency_rows, result_row

STAGES = ("base", "plus")


def bench_summarize(samples: list[dict]) -> list[dict]:
    """The suite's aggregate rows from its samples (see the module docstring)."""
    problems = samples_by_problem(samples)
    scored = {task_id: group for task_id, group in problems.items() if not has_harness_error(group)}
    scored_samples = [sample for group in scored.values() for sample in group]
    tags = common_tags(samples, len(problems), len(scored))
    total_s, untimed = total_duration(problems)
    duration = {"duration_seconds": total_s} if not untimed else {}
    pass_tags = {**tags, **missing_duration_tags(untimed, len(problems))}
    by_k = {stage: pass_at_k_rows(scored, pass_tags, duration, passed=lambda sample, stage=stage: sample[f"{stage}_passed"],
                                  suffix=f"_{stage}") for stage in STAGES}
    return [
        *[row for k in PASS_AT_K for stage in STAGES for row in by_k[stage] if row["tags"]["k"] == str(k)],
        *verdict_rows(scored_samples, tags),
        *[result_row(f"first_failure_{stage}", "failures", _first_failures(scored_samples, stage), "count", tags)
          for stage in STAGES],
        left_out_row(scored, tags),
        result_row("harness_errors", "errors", len(problems) - len(scored), "count", tags),
        *latency_rows(scored_samples, LATENCY_PERCENTILES, tags, mean=True),
        *([result_row("total_duration", "duration", total_s, "seconds", tags, **duration)] if duration else []),
        *decode_rows(scored_samples, tags),
    ]


def _first_failures(samples: list[dict], stage: str) -> int:
    return sum((sample.get("first_failure") or {}).get("stage") == stage for sample in samples)


def left_out_row(scored: dict[str, list[dict]], tags: dict) -> dict:
    left_out = [f"{task_id} {item}" for task_id, group in scored.items() for item in group[0].get("inputs_left_out") or ()]
    row_tags = dict(tags)
    if left_out:
        row_tags["left_out"] = "; ".join(left_out[:3]) + ("; ..." if len(left_out) > 3 else "")
    return result_row("inputs_left_out", "inputs", len(left_out), "count", row_tags)
