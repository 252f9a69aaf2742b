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
    PASS_AT_K,
    ScoredLog,
    pass_at_k_rows,
    verdict_rows,
)
from pytest_mlxbench.suites.rows import result_row

STAGES = ("base", "plus")


def bench_summarize(samples: list[dict]) -> list[dict]:
    """The suite's aggregate rows from its samples (see the module docstring)."""
    log = ScoredLog.of(samples)
    by_stage = {stage: pass_at_k_rows(log.scored, log.pass_tags, log.duration, suffix=f"_{stage}",
                                      passed=lambda sample, stage=stage: sample[f"{stage}_passed"]) for stage in STAGES}
    return [
        *[row for k in PASS_AT_K for stage in STAGES for row in by_stage[stage] if row["tags"]["k"] == str(k)],
        *verdict_rows(log.samples, log.tags),
        *[result_row(f"first_failure_{stage}", "failures", _first_failures(log.samples, stage), "count", log.tags)
          for stage in STAGES],
        left_out_row(log.scored, log.tags),
        log.harness_error_row(),
        *log.timing_rows(),
    ]


def _first_failures(samples: list[dict], stage: str) -> int:
    return sum((sample.get("first_failure") or {}).get("stage") == stage for sample in samples)


def left_out_row(scored: dict[str, list[dict]], tags: dict) -> dict:
    left_out = [f"{task_id} {item}" for task_id, group in scored.items() for item in group[0].get("inputs_left_out") or ()]
    row_tags = dict(tags)
    if left_out:
        row_tags["left_out"] = "; ".join(left_out[:3]) + ("; ..." if len(left_out) > 3 else "")
    return result_row("inputs_left_out", "inputs", len(left_out), "count", row_tags)
