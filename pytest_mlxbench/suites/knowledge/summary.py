"""Result rows of the knowledge suite from its samples (pure). Rows, in this order:

* ``accuracy_overall``: the share of scored questions whose extracted letter is the answer;
  tags count how each letter was found (``by_<method>``, see ``letters``);
* ``accuracy_<subject>`` per subject (MMLU's subjects, MMLU-Pro's categories) when there are several;
* ``unanswered``: the share of scored questions with no letter found;
* ``failures_no_answer``, ``failures_wrong_choice``;
* ``errors``, ``latency_p50``/``latency_p95``, ``decode``.
"""

from __future__ import annotations

from collections import Counter

from pytest_mlxbench.suites.answer_checked import (
    accuracy_row,
    common_tags,
    failure_rows,
    per_subject_rows,
    scored_samples,
    tail_rows,
)
from pytest_mlxbench.suites.knowledge.letters import FAILURE_KINDS, METHODS
from pytest_mlxbench.suites.rows import result_row


def _passed(sample: dict) -> bool:
    return sample["verdict"]["passed"]


def bench_summarize(samples: list[dict]) -> list[dict]:
    scored = scored_samples(samples)
    tags = common_tags(samples, scored)
    rows = []
    if scored:
        methods = Counter(sample["verdict"].get("method") for sample in scored)
        method_tags = {f"by_{method}": methods[method] for method in METHODS}
        rows.append(accuracy_row("accuracy_overall", scored, _passed, {**tags, **method_tags}))
        rows += per_subject_rows(scored, _passed, tags)
        unanswered = sum(1 for sample in scored if sample["verdict"]["kind"] == "no_answer")
        rows.append(result_row("unanswered", "unanswered_rate", unanswered / len(scored), "ratio",
                               {**tags, "unanswered": unanswered}))
    return rows + failure_rows(scored, FAILURE_KINDS, tags) + tail_rows(samples, scored, tags)
