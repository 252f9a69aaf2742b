"""One EvalPlus task: the request, the candidates' runs (all inputs of a task in one judged run per
candidate) and each sample's base and plus verdicts.

A candidate runs in one sandbox process that serves calls; the judge calls it on every base input,
then every plus input, each within its own time limit, and stops at the first output that does not
pass (``oracle.judge_stages``). Time limits are EvalPlus's: per input ``max(4 s, 4 x the reference's
time)``, per stage ``min(60 s, their sum) + 1 s``. The sample passes *base* when every base input
passed, *plus* when every input of both stages did (EvalPlus's ``base_status == plus_status ==
pass``); where it stopped is its ``first_failure``.
"""

from __future__ import annotations

import math
from importlib import resources

from pytest_mlxbench.sandbox import Check, Limits, Sandbox, SandboxResult
from pytest_mlxbench.suites.code_accuracy.extraction import build_candidate
from pytest_mlxbench.suites.code_accuracy.run import DETAIL_CHARS, verdict_fields
from pytest_mlxbench.suites.evalplus.expected import STAGES, Expected
from pytest_mlxbench.suites.evalplus.tasks import EvalPlusTask
from pytest_mlxbench.suites.rows import printable

INSTRUCTION = ("Please provide a self-contained Python script that solves the following problem in a markdown "
               "code block:")  # EvalPlus's instruction for chat models (codegen.py)
MIN_TIME_LIMIT_S = 4.0  # EvalPlus's DEFAULT_MIN_TIME_LIMIT (config.py; 1.0 in the 0.3.1 release)
TIME_LIMIT_FACTOR = 4.0  # DEFAULT_GT_TIME_LIMIT_FACTOR
STAGE_CAP_S = 60.0  # EVALPLUS_TIMEOUT_PER_TASK's default
MEMORY_BYTES = 4 * 1024**3  # EVALPLUS_MAX_MEMORY_BYTES's default
# The oracle runs in the judge in a namespace of its own: the task's entry point (bound by name in
# the judge's globals) can never shadow one of its functions.
ORACLE_CONTEXT = ("_evalplus = {'__name__': 'evalplus_oracle'}\n"
                  f"exec(compile({resources.files(__package__).joinpath('oracle.py').read_text()!r}, "
                  "'evalplus_oracle.py', 'exec'), _evalplus)\n")
JUDGE_TEST = "_evalplus['judge_stages'](candidate, DATA, record)\n"


def chat_messages(task: EvalPlusTask) -> list[dict]:
    """EvalPlus's chat request: its instruction, then the task's prompt in a Python fence."""
    return [{"role": "user", "content": f"{INSTRUCTION}\n```python\n{task.prompt.strip()}\n```"}]


def chat_request(task: EvalPlusTask, model: str, gen_kwargs: dict) -> dict:
    return {"model": model, "messages": chat_messages(task), **gen_kwargs}


def time_limit(reference_s: float) -> float:
    return max(MIN_TIME_LIMIT_S, TIME_LIMIT_FACTOR * reference_s)


def judge_data(task: EvalPlusTask, expected: Expected) -> dict:
    """The judge's ``DATA``: per stage the inputs that have an expected output, with their index."""
    stages = []
    for stage in STAGES:
        kept = [(index, args, entry) for index, (args, entry) in
                enumerate(zip(getattr(task, f"{stage}_input"), expected.stages[stage])) if "value" in entry]
        stages.append({"name": stage, "indexes": [index for index, _, _ in kept],
                       "inputs": [args for _, args, _ in kept], "expected": [entry["value"] for _, _, entry in kept],
                       "limits": [time_limit(entry["seconds"]) for _, _, entry in kept]})
    return {"rules": task.rules, "entry_point": task.entry_point, "atol": task.atol, "stages": stages}


def run_timeout(data: dict) -> float:
    """The whole run's wall-clock limit: EvalPlus's per stage, summed, and a second to start."""
    return 1.0 + sum(min(STAGE_CAP_S, sum(stage["limits"])) + 1.0 for stage in data["stages"])


def run_samples(sandbox: Sandbox, task: EvalPlusTask, expected: Expected,
                codes: list[str | None]) -> list[SandboxResult | None]:
    """Sandbox results in sample order, run in parallel; None where the reply had no code."""
    data = judge_data(task, expected)
    timeout_s = run_timeout(data)
    check = Check(JUDGE_TEST, task.entry_point, context=ORACLE_CONTEXT, data=data)
    limits = Limits(cpu_seconds=math.ceil(timeout_s) + 1, address_space_bytes=MEMORY_BYTES)
    present = [build_candidate(task, code) for code in codes if code is not None]
    results = iter(sandbox.run_many(present, timeout_s=timeout_s, limits=limits, checks=check))
    return [next(results) if code is not None else None for code in codes]


def sample_verdict(task: EvalPlusTask, code: str | None, run: SandboxResult | None) -> dict:
    """``verdict_fields`` of the run, with ``base_passed``, ``plus_passed`` and ``first_failure``
    (``{"stage", "index"}`` of the input it stopped at; None when it passed or never got to one)."""
    fields = verdict_fields(task, code, run)
    where = run.outputs[-1] if run is not None and run.outputs else None
    passed = run is not None and run.passed
    fields.update(base_passed=passed or (where or {}).get("stage") == "plus", plus_passed=passed,
                  first_failure=where)
    if run is not None and not passed:
        at = f"{where['stage']} input {where['index']}" if where else "before its first input"
        fields["detail"] = printable(f"{at}: {run.detail}")[:DETAIL_CHARS]
    return fields


def miss_detail(verdicts: list[dict]) -> str:
    first = verdicts[0]
    summary = f"base {'passed' if first['base_passed'] else 'failed'}, {first['detail']}"
    return summary if len(verdicts) == 1 else f"0 of {len(verdicts)} samples passed plus; sample 0: {summary}"
