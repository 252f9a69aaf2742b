"""One code-accuracy problem: the request sent, the replies drawn, the sandbox runs of the
extracted code, and what goes to the sample log (see ``summary`` for the rows).

Verdicts come from the sandbox's judge (``isolation="judge"``): the problem's tests run in a
process of their own and call the candidate's function through a proxy. A problem whose canonical
solution passes only when its tests run in the candidate's own process (a test the proxy cannot
serve) is run that way for every sample, and its verdicts are tagged ``isolation="in_process"``.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple, Protocol

import pytest

import pytest_mlxbench
from pytest_mlxbench.sandbox import Check, Isolation, Limits, Sandbox, SandboxResult
from pytest_mlxbench.suites.code_accuracy.problems import Problem, load_problems
from pytest_mlxbench.suites.rows import printable

CANONICAL_TIMEOUT_S = 60.0
DETAIL_CHARS = 200
INSTRUCTION = (
    "Complete the Python function below. Reply with the complete function, its signature and any "
    "imports it needs included, in one ```python code block."
)


class SandboxForms(Protocol):
    """How one problem's code runs in the sandbox, shared by the code suites: judged (the tests in
    the judge, the candidate's program behind a proxy) or, for tests a proxy cannot serve, as one
    program in the candidate's own process. HumanEval's forms: ``problems.Problem``."""

    task_id: str
    entry_point: str

    @property
    def canonical_program_code(self) -> str: ...

    def candidate_program(self, code: str) -> str: ...

    def judge_check(self) -> Check: ...

    def whole_program(self, code: str) -> str: ...


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
    return "+".join(isolation.in_force()) or "none"


class Reply(NamedTuple):
    seed: int
    text: str
    finish_reason: str | None
    latency_s: float
    usage: dict | None


class SampleLog:
    """Writes a problem's samples to the suite's sample log (see ``scorers.code_summary``)."""

    def __init__(self, record_sample, task_id: str, dataset: str, settings, isolation: Isolation) -> None:
        self._record = record_sample
        self._started = time.perf_counter()
        self._base = {"task_id": task_id, "dataset": dataset,
                      "samples_per_problem": settings.code_samples, "temperature": settings.temperature,
                      "protections": isolation_summary(isolation), "protection_notes": "; ".join(isolation.notes)}

    def scored(self, replies: list[Reply], codes: list[str | None], verdicts: list[dict], **fields) -> None:
        duration_s = time.perf_counter() - self._started
        for index, (reply, code, verdict) in enumerate(zip(replies, codes, verdicts)):
            self._record({**self._base, "sample": index, **reply_fields(reply), "code": code, **verdict, **fields,
                          "error": None, "problem_duration_s": duration_s})

    def harness_error(self, replies: list[Reply], failed_sample: int | None, error: str) -> None:
        """``record_error``, then fail the test."""
        self.record_error(replies, failed_sample, error)
        pytest.fail(f"harness error, not a model miss: {error}", pytrace=False)

    def record_error(self, replies: list[Reply], failed_sample: int | None, error: str) -> None:
        """Keep what was drawn before the error (unscored) and the error itself."""
        unscored = {"code": None, "verdict": None, "detail": None, "stderr_tail": None, "run_s": None,
                    "isolation": None, "problem_duration_s": time.perf_counter() - self._started}
        for index, reply in enumerate(replies):
            self._record({**self._base, "sample": index, **reply_fields(reply), **unscored,
                          "error": f"not run: {error}"})
        no_reply = {"seed": None, "reply": None, "finish_reason": None, "latency_s": None, "usage": None}
        self._record({**self._base, "sample": failed_sample, **no_reply, **unscored, "error": error})

    def request_failed(self, replies: list[Reply], index: int) -> Callable[[str], None]:
        """``on_failure`` for ``pytest_mlxbench.ask``: the replies drawn so far and the failed
        request go to the sample log (a harness error); ``ask`` then fails the test."""
        return lambda reason: self.record_error(replies, index, f"request of sample {index} failed: {reason}")


def sample_requests(request: dict, samples: int) -> list[dict]:
    """One request per sample, with seed ``request seed + index`` (mlx_lm.server ignores ``n``): what
    a code suite sends for a problem, and declares with ``bench_request``."""
    return [{**request, "seed": request["seed"] + index} for index in range(samples)]


def draw_replies(client, endpoint, request: dict, samples: int, log: SampleLog) -> list[Reply]:
    """``samples`` replies (``sample_requests``), each through ``pytest_mlxbench.ask``: a failed
    request is logged (``SampleLog.request_failed``) and fails the test."""
    replies: list[Reply] = []
    for index, sample_request in enumerate(sample_requests(request, samples)):
        completion = pytest_mlxbench.ask(client, endpoint, sample_request, on_failure=log.request_failed(replies, index))
        replies.append(Reply(sample_request["seed"], completion.text, completion.finish_reason, completion.latency_s,
                             completion.usage))
    return replies


def run_canonical(sandbox: Sandbox, problem: SandboxForms, timeout_s: float) -> tuple[SandboxResult, str | None]:
    """The canonical solution through the judge, else in process; returns its run and the way every
    candidate of the problem is run (``judge``, ``in_process``, or None when neither passes)."""
    code = problem.canonical_program_code
    judged = sandbox.run(problem.candidate_program(code), timeout_s=timeout_s, check=problem.judge_check())
    if judged.passed:
        return judged, "judge"
    in_process = sandbox.run(problem.whole_program(code), timeout_s=timeout_s)
    return (in_process, "in_process") if in_process.passed else (judged, None)


def run_candidates(sandbox: Sandbox, problem: SandboxForms, codes: list[str | None], timeout_s: float,
                   mode: str = "judge") -> list[SandboxResult | None]:
    """Sandbox results in sample order, run in parallel; None where the reply had no code."""
    present = [code for code in codes if code is not None]
    limits = Limits(cpu_seconds=max(Limits().cpu_seconds, math.ceil(timeout_s) + 1))
    if mode == "judge":
        programs, checks = [problem.candidate_program(code) for code in present], problem.judge_check()
    else:
        programs, checks = [problem.whole_program(code) for code in present], None
    results = iter(sandbox.run_many(programs, timeout_s=timeout_s, limits=limits, checks=checks))
    return [next(results) if code is not None else None for code in codes]


def reply_fields(reply: Reply) -> dict:
    return {"seed": reply.seed, "reply": reply.text, "finish_reason": reply.finish_reason,
            "latency_s": reply.latency_s, "usage": reply.usage}


def verdict_fields(problem: SandboxForms, code: str | None, run: SandboxResult | None) -> dict:
    if run is None:
        return {"verdict": "no_code", "detail": f"no Python code defining {problem.entry_point} in the reply",
                "stderr_tail": "", "run_s": None, "isolation": None}
    detail = run.detail
    if run.verdict in ("failed", "error", "unencodable", "killed"):
        line = run.failing_line if run.isolation == "judge" else failing_line(problem.whole_program(code), run.stderr_tail)
        detail = f"{detail} at `{line}`" if line else detail
    stderr = run.stderr_tail
    if run.judge_stderr_tail:  # the test's own traceback, from the judge
        stderr = f"{stderr}--- test (judge) ---\n{run.judge_stderr_tail}"
    return {"verdict": run.verdict, "detail": printable(detail)[:DETAIL_CHARS], "stderr_tail": stderr,
            "run_s": run.duration_s, "isolation": run.isolation}


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
