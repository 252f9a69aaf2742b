"""Tool-calling suite: BFCL-style function calling through an OpenAI-compatible server.

One test per case, named by the case id (``-k``, ``--lf`` and per-case reports work). The cases are
the shipped set (``pytest_mlxbench/suites/tool_calling/data/``), or any BFCL-format category given with ``--tool-cases
QUESTIONS [--tool-answers ANSWERS]`` (irrelevance categories need no answers).

The request is built as BFCL builds it for OpenAI function-calling models: the case's first-turn
messages as they are (no system prompt added), ``tools`` converted from BFCL's function docs
(``pytest_mlxbench.suites.tool_calling.bfcl.to_openai_tools``), no ``tool_choice`` (the server's default, auto), not
streamed. BFCL's OpenAI-only ``store=False`` is left out: local servers have nothing to store.
Generation parameters come from the options (``--temperature``, ``--max-tokens``, ``--seed``).
Only ``message.tool_calls`` counts as a call (BFCL's FC mode; no text fallback).

Outcomes: a right answer passes; a wrong one is a measurement, shown as xfail with its failure kind
(``pytest_mlxbench.suites.tool_calling.checker.FAILURE_KINDS``) and exit code 0; a request that errors
(HTTP error, connection refused, a reply without choices) fails the test. Such a harness error is
excluded from accuracy and counted in the ``errors`` row (see ``pytest_mlxbench.suites.tool_calling.summary``
for every row and how it is computed). Each case's request, raw reply, verdict, latency and usage go
to the sample log.
"""

from __future__ import annotations

import pytest_mlxbench
from pytest_mlxbench.suites.tool_calling.checker import check_message
from pytest_mlxbench.suites.tool_calling.run import (
    case_source,
    chat_request,
    send,
    suite_cases,
)
from pytest_mlxbench.suites.tool_calling.summary import bench_summarize  # noqa: F401  (the plugin calls it)

pytestmark = pytest_mlxbench.suite("tool-calling")


def pytest_generate_tests(metafunc):
    if "case" in metafunc.fixturenames:
        cases = suite_cases(pytest_mlxbench.get_settings(metafunc.config))
        metafunc.parametrize("case", cases, ids=[case.id for case in cases])


def bench_request(item, endpoint, gen_kwargs):
    """The request a case's test sends, so ``--bench-concurrency`` can send it ahead."""
    return chat_request(item.callspec.params["case"], endpoint.model, gen_kwargs)


def test_tool_call(case, openai_client, mlx_endpoint, mlxbench_settings, bench_gen_kwargs, record_sample):
    request = chat_request(case, mlx_endpoint.model, bench_gen_kwargs)
    sample = {"id": case.id, "category": case.category, "source": case_source(mlxbench_settings),
              "request": request}
    completion = send(openai_client, mlx_endpoint, request, sample, record_sample)
    message = completion.choice.message
    verdict = check_message(case, message)
    record_sample({
        **sample,
        "reply": message.model_dump(mode="json", exclude_none=True),
        "finish_reason": completion.finish_reason,
        "verdict": {"passed": verdict.passed, "kind": verdict.kind, "detail": verdict.detail},
        "error": None,
        "latency_s": completion.latency_s,
        "usage": completion.usage,
    })
    if not verdict.passed:
        pytest_mlxbench.wrong_answer(verdict.kind, verdict.detail)
