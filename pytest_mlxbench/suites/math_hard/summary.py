"""Result rows of the math-hard suite from its samples (pure). Rows, in this order:

* ``accuracy_math_verify``: the share of scored problems whose extracted final answer math-verify
  judges equivalent to the reference (the case verdict);
* ``exact_match_minerva``: lm-eval ``minerva_math``'s exact match on the same replies (its own
  extraction and normalisation, see ``answers``);
* ``accuracy_<subject>`` (math-verify) per subject and ``accuracy_level_<n>`` per level, when the
  run has more than one;
* ``failures_<kind>`` for ``no_answer``, ``wrong_value``, ``truncated``, ``checker_timeout``;
* ``errors``, ``latency_p50``/``latency_p95``, ``decode``.
"""

from __future__ import annotations

from pytest_mlxbench.suites.answer_checked import (
    accuracy_row,
    common_tags,
    failure_rows,
    per_subject_rows,
    scored_samples,
    tail_rows,
)

FAILURE_KINDS = ("no_answer", "wrong_value", "truncated", "checker_timeout")
LM_EVAL_TASK = "minerva_math / minerva_math500 (--apply_chat_template --fewshot_as_multiturn)"


def _passed(sample: dict) -> bool:
    return sample["verdict"]["passed"]


def bench_summarize(samples: list[dict]) -> list[dict]:
    scored = scored_samples(samples)
    tags = common_tags(samples, scored)
    levels = ",".join(sorted({str(sample.get("level")) for sample in scored}))
    tags["levels"] = levels or "none"
    rows = []
    if scored:
        rows.append(accuracy_row("accuracy_math_verify", scored, _passed, {**tags, "checker": "math-verify"}))
        rows.append(accuracy_row("exact_match_minerva", scored, lambda s: s["verdict"]["minerva_match"],
                                 {**tags, "lm_eval_task": LM_EVAL_TASK}, metric="exact_match"))
        rows += per_subject_rows(scored, _passed, tags)
        rows += per_subject_rows(scored, _passed, tags, key="level", prefix="accuracy_level")
    return rows + failure_rows(scored, FAILURE_KINDS, tags) + tail_rows(samples, scored, tags)
