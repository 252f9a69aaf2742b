"""Reasoning suite: GSM8K grade-school math, scored as lm-eval's ``gsm8k_cot`` scores it.

One test per problem of the shipped GSM8K test split (1,319) or of ``--reasoning-dataset FILE``
(GSM8K's format, ``.gz`` too); ``--bench-limit N`` runs the first N in file order, as lm-eval's
``--limit`` does. The request is lm-eval's chat form of ``gsm8k_cot`` (eight chain-of-thought
exemplars as turns, stop at ``Q:``; see ``pytest_mlxbench.suites.reasoning.gsm8k``), with
``--max-tokens``, ``--temperature`` and ``--seed``.

The case passes when lm-eval's ``strict-match`` filter ("The answer is N.") matches the reference
exactly; a miss is xfail with its kind (``no_answer``, ``wrong_value``, ``truncated``). The rows
report both filters, ``strict-match`` and ``flexible-extract`` (``pytest_mlxbench.suites.reasoning.summary``).
A failed request is a harness error. The sample log holds the request, raw reply, both
extractions, the reference and the verdict.
"""

from __future__ import annotations

import pytest_mlxbench
from pytest_mlxbench.suites.answer_checked import ask, chat_request, reply_fields
from pytest_mlxbench.suites.reasoning import filters, gsm8k
from pytest_mlxbench.suites.reasoning.summary import bench_summarize  # noqa: F401  (the plugin calls it)

pytestmark = pytest_mlxbench.suite("reasoning")


def pytest_generate_tests(metafunc):
    if "problem" in metafunc.fixturenames:
        problems = gsm8k.load_problems(pytest_mlxbench.get_settings(metafunc.config).reasoning_dataset)
        metafunc.parametrize("problem", problems, ids=[problem.id for problem in problems])


def test_gsm8k(problem, openai_client, mlx_endpoint, mlxbench_settings, bench_gen_kwargs, record_sample):
    request = chat_request(gsm8k.chat_messages(problem), mlx_endpoint.model, bench_gen_kwargs, gsm8k.STOP)
    dataset = mlxbench_settings.reasoning_dataset
    sample = {"id": problem.id, "source": dataset.name if dataset else "shipped", "request": request,
              "reference": problem.target}
    reply = ask(openai_client, mlx_endpoint, request, sample, record_sample)
    verdict = filters.judge(reply.text, problem.target, reply.truncated)
    record_sample({**sample, **reply_fields(reply), "extracted": verdict.extracted, "verdict": verdict.as_dict()})
    if not verdict.passed:
        pytest_mlxbench.wrong_answer(verdict.kind, verdict.detail)
