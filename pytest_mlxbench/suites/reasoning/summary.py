"""Result rows of the reasoning suite from its samples (pure). Rows, in this order:

* ``exact_match_strict-match`` and ``exact_match_flexible-extract``: lm-eval ``gsm8k_cot``'s two
  filters, each the share of scored problems whose extraction matches the reference exactly
  (see ``filters``); tags name the filter and the lm-eval task;
* ``failures_<kind>`` for ``no_answer``, ``wrong_value``, ``truncated`` (the strict-match verdict);
* ``errors`` (harness errors, left out of everything else), ``latency_p50``/``latency_p95`` and
  ``decode`` (usage completion tokens over request time).
"""

from __future__ import annotations

from pytest_mlxbench.suites.answer_checked import (
    accuracy_row,
    common_tags,
    failure_rows,
    scored_samples,
    tail_rows,
)
from pytest_mlxbench.suites.reasoning.filters import FAILURE_KINDS, FILTERS

LM_EVAL_TASK = "gsm8k_cot (--apply_chat_template --fewshot_as_multiturn)"


def bench_summarize(samples: list[dict]) -> list[dict]:
    scored = scored_samples(samples)
    tags = common_tags(samples, scored)
    rows = []
    if scored:
        for name in FILTERS:
            rows.append(accuracy_row(f"exact_match_{name}", scored, lambda s, n=name: s["verdict"]["correct"][n],
                                     {**tags, "filter": name, "lm_eval_task": LM_EVAL_TASK}, metric="exact_match"))
    return rows + failure_rows(scored, FAILURE_KINDS, tags) + tail_rows(samples, scored, tags)
