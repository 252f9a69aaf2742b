"""The two evaluations the EvalPlus dev checks compare (``evalplus_crosscheck.py``, ``evalplus_speed.py``):
EvalPlus's own ``evaluate`` and ours, on the same solutions.

EvalPlus runs in its own virtual environment (never a project dependency)::

    python3 -m venv .venv-evalplus && .venv-evalplus/bin/pip install 'evalplus==0.3.1'

offline: its dataset download is replaced by ``MBPP_OVERRIDE_PATH`` (EvalPlus's own switch, read
when ``evalplus.data.mbpp`` is imported) pointing at the same MBPP+ file we use, its ground-truth
cache goes to a directory of ours (``XDG_CACHE_HOME``), and ``min_time_limit`` is passed as 4 s,
the value of EvalPlus's current source (the 0.3.1 release still had 1 s), so both sides apply the
same time limits. Only ``evaluate`` itself is timed (in its process, imports excluded).

EvalPlus caps each candidate's address space at 4 GB (RLIMIT_AS). Its candidate processes are forked
from pool workers that already map more than that with MBPP+ v0.1.0 (they are forked after the
ground truth is loaded: a 793 MB pickle, mostly Mbpp/255's outputs), so a candidate that allocates a
few megabytes fails with MemoryError, its own canonical solutions of Mbpp/389, 392 and 583 among
them, depending on the worker's state. The cross-check lifts the cap to 12 GiB with EvalPlus's own
``EVALPLUS_MAX_MEMORY_BYTES`` so it compares rules, not that accident; the speed benchmark keeps it,
as users run EvalPlus (a failed candidate stops early: the conservative side for our ratio).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pytest_mlxbench.sandbox import Sandbox
from pytest_mlxbench.suites.evalplus.expected import expected_outputs
from pytest_mlxbench.suites.evalplus.run import (
    MIN_TIME_LIMIT_S,
    run_samples,
    sample_verdict,
)
from pytest_mlxbench.suites.evalplus.tasks import EvalPlusTask

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_EVALPLUS_PYTHON = ROOT / ".venv-evalplus" / "bin" / "python"
EVALPLUS_DRIVER = """
import json, sys, time
from evalplus.evaluate import evaluate
samples, parallel, min_time_limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
started = time.perf_counter()
evaluate("mbpp", samples=samples, parallel=parallel, i_just_wanna_run=True, min_time_limit=min_time_limit)
print(json.dumps({"seconds": time.perf_counter() - started}))
"""


def run_evalplus(python: Path, dataset: Path, solutions: list[tuple[str, str]], scratch: Path, cache: Path,
                 parallel: int, memory_bytes: int | None = None) -> tuple[dict[str, list[dict]], float]:
    """EvalPlus's verdicts per task (in solution order: ``base_status``, ``plus_status``) and the
    seconds its ``evaluate`` took; ``memory_bytes`` replaces its 4 GB address-space cap."""
    if not python.is_file():
        sys.exit(f"no EvalPlus interpreter at {python}: python3 -m venv .venv-evalplus && "
                 ".venv-evalplus/bin/pip install 'evalplus==0.3.1' (or give --evalplus-python)")
    samples = scratch / f"samples-{time.monotonic_ns()}.jsonl"
    samples.write_text("".join(json.dumps({"task_id": task_id, "solution": code}) + "\n" for task_id, code in solutions))
    env = {**os.environ, "MBPP_OVERRIDE_PATH": str(dataset), "XDG_CACHE_HOME": str(cache), "HF_HUB_OFFLINE": "1",
           "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    if memory_bytes is not None:
        env["EVALPLUS_MAX_MEMORY_BYTES"] = str(memory_bytes)
    done = subprocess.run([str(python), "-c", EVALPLUS_DRIVER, str(samples), str(parallel), str(MIN_TIME_LIMIT_S)],
                          env=env, capture_output=True, text=True, cwd=scratch)
    if done.returncode != 0:
        sys.exit(f"EvalPlus's evaluate failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    seconds = json.loads(done.stdout.strip().splitlines()[-1])["seconds"]
    results = next(path for path in (samples.with_name(samples.stem + "_eval_results.json"),
                                     samples.with_name(samples.stem + ".eval_results.json")) if path.is_file())
    return json.loads(results.read_text())["eval"], seconds


def run_ours(tasks: dict[str, EvalPlusTask], solutions: list[tuple[str, str]], digest: str, cache: Path,
             workers: int) -> tuple[dict[str, list[dict]], float]:
    """Our verdicts per task (in solution order: ``sample_verdict``'s fields) and the seconds the
    evaluation took: the sandbox pool's start, the expected outputs (from ``cache`` or computed) and
    every candidate's run, tasks spread over ``workers`` threads as the pool has workers."""
    by_task: dict[str, list[str]] = {}
    for task_id, code in solutions:
        by_task.setdefault(task_id, []).append(code)
    started = time.perf_counter()
    with Sandbox(workers=workers) as sandbox:
        def evaluate(task_id: str) -> tuple[str, list[dict]]:
            task, codes = tasks[task_id], by_task[task_id]
            expected = expected_outputs(sandbox, task, digest, cache)
            runs = run_samples(sandbox, task, expected, codes)
            return task_id, [sample_verdict(task, code, run) for code, run in zip(codes, runs)]

        with ThreadPoolExecutor(max_workers=workers) as pool:
            verdicts = dict(pool.map(evaluate, by_task))
    return verdicts, time.perf_counter() - started
