"""Speed of the evalplus suite's evaluation against EvalPlus's own ``evaluate``: the 399 canonical
MBPP+ solutions, base and plus, on this machine in the same run.

Each side first runs with an empty cache (its expected outputs computed: "cold"), then again with
them cached ("warm", how both run from the second time on a dataset version). Both use one worker
per CPU (EvalPlus's ``parallel``, our sandbox pool). Prints both times and ratios; the target is
ours at most half of EvalPlus's when warm. Exits 1 when that is missed or one of our verdicts is
not a pass on base and plus.

    python benchmarks/evalplus_speed.py [--evalplus-python .venv-evalplus/bin/python]

(EvalPlus in its own venv, offline: see ``evalplus_runs.py``.)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from evalplus_runs import DEFAULT_EVALPLUS_PYTHON, run_evalplus, run_ours

from pytest_mlxbench.suites.evalplus.tasks import MBPP_PLUS, dataset_digest, load_tasks

TARGET = 0.5


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evalplus-python", type=Path, default=DEFAULT_EVALPLUS_PYTHON)
    args = parser.parse_args()
    tasks = load_tasks(None)
    solutions = [(task_id, task.prompt + task.canonical_solution) for task_id, task in tasks.items()]
    workers = os.cpu_count() or 1
    times: dict[str, dict[str, float]] = {"cold": {}, "warm": {}}
    with tempfile.TemporaryDirectory(prefix="mlxbench-evalplus-speed-") as scratch:
        for phase in times:
            theirs, times[phase]["evalplus"] = run_evalplus(args.evalplus_python, MBPP_PLUS, solutions, Path(scratch),
                                                            Path(scratch) / "evalplus-cache", workers)
            ours, times[phase]["ours"] = run_ours(tasks, solutions, dataset_digest(None), Path(scratch) / "our-cache",
                                                  workers)
    not_passed = sorted(task_id for task_id, verdicts in ours.items() if not verdicts[0]["plus_passed"])
    their_failures = sorted(task_id for task_id, results in theirs.items()
                            if not results[0]["base_status"] == results[0]["plus_status"] == "pass")
    print(f"{len(solutions)} canonical MBPP+ solutions, base and plus, {workers} workers each side")
    for phase, seconds in times.items():
        ratio = seconds["ours"] / seconds["evalplus"]
        print(f"{phase:5} EvalPlus evaluate {seconds['evalplus']:7.1f} s   ours {seconds['ours']:7.1f} s   "
              f"ratio {ratio:.2f}" + (f" (target <= {TARGET})" if phase == "warm" else ""))
    print(f"ours: {len(solutions) - len(not_passed)}/{len(solutions)} pass base and plus"
          + (f"; not passed: {', '.join(not_passed)}" if not_passed else ""))
    print(f"EvalPlus: {len(solutions) - len(their_failures)}/{len(solutions)} pass base and plus"
          + (f"; not passed: {', '.join(their_failures)}" if their_failures else ""))
    return 0 if times["warm"]["ours"] / times["warm"]["evalplus"] <= TARGET and not not_passed else 1


if __name__ == "__main__":
    sys.exit(main())
