"""Coding suite: MBPP, the model's function run against the problem's original test asserts in the sandbox.

One test per problem of the shipped MBPP+ (399 MBPP problems with their original asserts) or of
``--coding-dataset FILE`` (MBPP+'s format or MBPP's original JSON lines). Per problem:

1. The reference solution runs against the asserts in the sandbox (the asserts in the judge, the
   solution behind a proxy; where the asserts need what a proxy cannot carry, e.g. a regex match
   they test for truth, all in the candidate's own process, tagged ``isolation=in_process``). If it
   fails, the data or the sandbox is broken: a harness error, except for the problems listed in
   ``coding.problems.KNOWN_DATA_ERRORS`` (their reference fails its own asserts; samples carry the reason).
   Its run time sets the candidates' timeout unless ``--code-timeout`` gives one.
2. The model is asked in lm-eval's ``mbpp_instruct`` wording (task text and asserts), ``--code-samples``
   times (seeds ``--seed + i``); the function is taken from each reply as code-accuracy takes it.
3. The candidate runs with the asserts exactly as the reference did.

Outcome, rows and sample log as code-accuracy's: pass@k, verdict counts, a problem without a passing
sample is a wrong answer (xfail) named by its first sample's verdict.
"""

from __future__ import annotations

import pytest_mlxbench
from pytest_mlxbench.sandbox import default_timeout
from pytest_mlxbench.suites.code_accuracy.extraction import extract_code
from pytest_mlxbench.suites.code_accuracy.run import (
    CANONICAL_TIMEOUT_S,
    SampleLog,
    draw_replies,
    miss_detail,
    run_candidates,
    run_canonical,
    sample_requests,
    verdict_fields,
)
from pytest_mlxbench.suites.code_accuracy.summary import bench_summarize  # noqa: F401  (the plugin calls it)
from pytest_mlxbench.suites.coding.problems import (
    KNOWN_DATA_ERRORS,
    load_problems,
    task_ids,
)
from pytest_mlxbench.suites.coding.prompt import chat_request

pytestmark = pytest_mlxbench.suite("coding")


def pytest_generate_tests(metafunc):
    if "task_id" in metafunc.fixturenames:
        ids = task_ids(pytest_mlxbench.get_settings(metafunc.config).coding_dataset)
        metafunc.parametrize("task_id", ids, ids=ids)


def bench_request(item, endpoint, gen_kwargs):
    """The requests a problem's test sends (one per sample), so ``--bench-concurrency`` can send them ahead."""
    settings = pytest_mlxbench.get_settings(item.config)
    problem = load_problems(settings.coding_dataset)[item.callspec.params["task_id"]]
    return sample_requests(chat_request(problem, endpoint.model, gen_kwargs), settings.code_samples)


def test_mbpp_problem(task_id, openai_client, mlx_endpoint, mlxbench_settings, bench_gen_kwargs, code_sandbox,
                      record_sample):
    settings = mlxbench_settings
    problem = load_problems(settings.coding_dataset)[task_id]
    dataset = settings.coding_dataset.name if settings.coding_dataset else "mbpp+"
    log = SampleLog(record_sample, task_id, dataset, settings, code_sandbox.isolation)
    canonical, mode = run_canonical(code_sandbox, problem, max(CANONICAL_TIMEOUT_S, settings.code_timeout or 0))
    data_error = KNOWN_DATA_ERRORS.get(task_id) if mode is None else None
    if mode is None and data_error is None:
        why = verdict_fields(problem, problem.canonical_program_code, canonical)["detail"]
        log.harness_error([], None, f"the reference solution of {task_id} does not pass its asserts in the sandbox "
                                    f"({canonical.verdict}: {why}): broken problem data or sandbox")
    timeout_s = settings.code_timeout or default_timeout(canonical.duration_s)

    request = chat_request(problem, mlx_endpoint.model, bench_gen_kwargs)
    replies = draw_replies(openai_client, mlx_endpoint, request, settings.code_samples, log)

    codes = [extract_code(reply.text, "", problem.entry_point) for reply in replies]
    runs = run_candidates(code_sandbox, problem, codes, timeout_s, mode or "judge")
    verdicts = [verdict_fields(problem, code, run) for code, run in zip(codes, runs)]
    log.scored(replies, codes, verdicts, timeout_s=timeout_s, canonical_s=canonical.duration_s, data_error=data_error)
    if not any(verdict["verdict"] == "passed" for verdict in verdicts):
        pytest_mlxbench.wrong_answer(verdicts[0]["verdict"], miss_detail(verdicts))
