"""Math-hard suite: competition mathematics (MATH, level 5 by default), checked with math-verify.

One test per problem: MATH-500's 134 level-5 problems by default, ``--math-levels 1-5`` (or
``4,5``...) for others, ``--math-dataset FILE`` for any MATH-format file (e.g. the full MATH test
set: its 1,324 level-5 problems are the Open LLM Leaderboard's MATH-hard). ``--bench-limit N`` runs
the first N in file order. The request is lm-eval's chat form of ``minerva_math`` (four Minerva
exemplars as turns, stop at ``Problem:``; ``pytest_mlxbench.suites.math_hard.problems``).

The final answer (the later of the last ``\\boxed{}`` and the last "final answer is ...") passes
when math-verify judges it equivalent to the reference; the check runs in a separate process with
a time limit (``--math-check-timeout``), so a reply that hangs sympy is the miss
``checker_timeout``, not a hung run. Other misses: ``no_answer``, ``wrong_value``, ``truncated``.
lm-eval's ``minerva_math`` exact match is reported beside it (``pytest_mlxbench.suites.math_hard.summary``).
"""

from __future__ import annotations

import pytest

import pytest_mlxbench
from pytest_mlxbench.suites.answer_checked import ask, chat_request, reply_fields
from pytest_mlxbench.suites.math_hard import problems
from pytest_mlxbench.suites.math_hard.summary import bench_summarize  # noqa: F401  (the plugin calls it)

pytestmark = pytest_mlxbench.suite("math-hard")


def pytest_generate_tests(metafunc):
    if "problem" in metafunc.fixturenames:
        settings = pytest_mlxbench.get_settings(metafunc.config)
        chosen = problems.load_problems(settings.math_dataset, settings.math_levels)
        metafunc.parametrize("problem", chosen, ids=[problem.id for problem in chosen])


@pytest.fixture(scope="session")
def answer_checker(mlxbench_settings):
    from pytest_mlxbench.suites.math_hard.equivalence import (
        AnswerChecker,
        CheckerUnavailable,
    )

    checker = AnswerChecker(mlxbench_settings.math_check_timeout)
    try:
        checker.start()
    except CheckerUnavailable as error:
        pytest.fail(str(error), pytrace=False)
    yield checker
    checker.close()


def test_math(problem, openai_client, mlx_endpoint, mlxbench_settings, bench_gen_kwargs, record_sample, answer_checker):
    from pytest_mlxbench.suites.math_hard.judge import judge

    request = chat_request(problems.chat_messages(problem), mlx_endpoint.model, bench_gen_kwargs, problems.STOP)
    dataset = mlxbench_settings.math_dataset
    sample = {"id": problem.id, "subject": problem.subject, "level": problem.level,
              "source": dataset.name if dataset else "shipped", "request": request, "reference": problem.answer}
    reply = ask(openai_client, mlx_endpoint, request, sample, record_sample)
    verdict = judge(reply.text, reply.truncated, problem, answer_checker)
    record_sample({**sample, **reply_fields(reply), "extracted": verdict["extracted"], "verdict": verdict})
    if not verdict["passed"]:
        pytest_mlxbench.wrong_answer(verdict["kind"], verdict["detail"])
