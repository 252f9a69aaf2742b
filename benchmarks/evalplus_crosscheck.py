"""Cross-check of the evalplus suite's verdicts against EvalPlus's own ``evaluate``, on MBPP+.

For every task, the canonical solution and deliberately wrong candidates made from it (below) go
through both evaluations; for each candidate the base verdict (every base input passed) and the plus
verdict (every base and plus input passed: EvalPlus's ``base_status == plus_status == "pass"``) must
be equal. Prints the agreement per kind of candidate and per task, every disagreement, and exits 1
on one that is not a known, explained difference (``KNOWN``).

    python benchmarks/evalplus_crosscheck.py [--limit N | --tasks ID ...] [--evalplus-python .venv-evalplus/bin/python]

(EvalPlus in its own venv, offline: see ``evalplus_runs.py``. Both sides take minutes: EvalPlus runs
two processes per candidate, and candidates that hang wait out their 4 s limit on both sides.)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path

from evalplus_runs import DEFAULT_EVALPLUS_PYTHON, run_evalplus, run_ours

from pytest_mlxbench.suites.evalplus.tasks import (
    MBPP_PLUS,
    EvalPlusTask,
    dataset_digest,
    load_tasks,
)
from pytest_mlxbench.suites.records import read_text

HELPERS = '''
import time as _mlxbench_time


def _mlxbench_off_by_one(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1
    if isinstance(value, str):
        return value[:-1] if value else "x"
    if isinstance(value, (list, tuple)):
        return type(value)(value[:-1]) if value else type(value)([0])
    if isinstance(value, dict):
        return {**value, "mlxbench": 1}
    if isinstance(value, set):
        return value | {"mlxbench"}
    return 0


def _mlxbench_other_type(value):
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return float(value)
    if isinstance(value, float):
        return str(value)
    if isinstance(value, str):
        return list(value)
    if isinstance(value, list):
        return tuple(value)
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, (set, dict)):
        return sorted(value, key=repr)
    return "None"


def _mlxbench_noise(value):
    if isinstance(value, float):
        return value * (1 + 3e-7)
    if isinstance(value, (list, tuple)):
        return type(value)(_mlxbench_noise(item) for item in value)
    return value


def _mlxbench_is_edge(args):
    return any(arg in (0, "", None) or (hasattr(arg, "__len__") and len(arg) == 0) for arg in args
               if isinstance(arg, (int, float, str, list, tuple, dict, set, type(None))))


def _mlxbench_is_large(args):
    return any((isinstance(arg, (int, float)) and not isinstance(arg, bool) and abs(arg) > 100)
               or (hasattr(arg, "__len__") and len(arg) > 10) for arg in args)


def _mlxbench_key(value):
    """An input's key, the same in every process (a set's order follows string hashing, which differs)."""
    if isinstance(value, (set, frozenset)):
        return ("set", sorted(map(_mlxbench_key, value)))
    if isinstance(value, dict):
        return ("dict", sorted((_mlxbench_key(key), _mlxbench_key(item)) for key, item in value.items()))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [_mlxbench_key(item) for item in value])
    return repr(value)


class _MlxbenchBox:
    def __init__(self, value):
        self.value = value
'''

KINDS = {  # name -> the wrapper's body, given the reference's result of ``args``
    "canonical": None,
    "off_by_one": "return _mlxbench_off_by_one(_mlxbench_reference(*args))",
    "wrong_type": "return _mlxbench_other_type(_mlxbench_reference(*args))",
    "float_noise": "return _mlxbench_noise(_mlxbench_reference(*args))",
    "returns_none": "_mlxbench_reference(*args)\n    return None",
    "raises_on_edge_input": "if _mlxbench_is_edge(args):\n        raise ValueError('edge input')\n"
                            "    return _mlxbench_reference(*args)",
    "wrong_on_plus_inputs_only": "key = repr(_mlxbench_key(args))\n    result = _mlxbench_reference(*args)\n"
                                 "    return result if key in _MLXBENCH_BASE else _mlxbench_off_by_one(result)",
    "returns_an_object": "return _MlxbenchBox(_mlxbench_reference(*args))",
    "hangs_on_large_input": "if _mlxbench_is_large(args):\n        while True:\n            _mlxbench_time.sleep(0.01)\n"
                            "    return _mlxbench_reference(*args)",
}
EVALPLUS_MEMORY_BYTES = 12 * 1024**3  # see evalplus_runs.py: its 4 GB cap fails allocations of any size here
HANG_EVERY = 8  # the hanging kind on every 8th task only: each hang waits out a 4 s limit on both sides
KNOWN = {  # (task, kind) -> why the verdicts may differ, for a reason outside the rules
    **{("Mbpp/255", kind): "five plus inputs with outputs of over a million values are left out here; EvalPlus "
                           "runs them (or fails its memory limit there)" for kind in KINDS},
}


def _helper(name: str):
    namespace: dict = {}
    exec(HELPERS, namespace)  # our own helper text: the key the candidates compute, computed here alike
    return namespace[name]


KEY = _helper("_mlxbench_key")


def candidate(task: EvalPlusTask, kind: str) -> str:
    program = task.prompt + task.canonical_solution
    body = KINDS[kind]
    if body is None:
        return program
    base = repr(sorted({repr(KEY(tuple(args))) for args in task.base_input}))
    # The reference lives in a namespace of its own, so that its recursive calls (Mbpp/583's
    # catalan_number) reach itself, not the wrapper: a wrong candidate is as fast as the reference.
    return (f"{HELPERS}\n_mlxbench_namespace = {{}}\nexec({program!r}, _mlxbench_namespace)\n"
            f"_MLXBENCH_BASE = {base}\n_mlxbench_reference = _mlxbench_namespace[{task.entry_point!r}]\n\n\n"
            f"def {task.entry_point}(*args):\n    {body}\n")


def kinds_for(position: int) -> list[str]:
    return [kind for kind in KINDS if kind != "hangs_on_large_input" or position % HANG_EVERY == 0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, help="the first N tasks only")
    parser.add_argument("--tasks", nargs="+", metavar="ID", help="these tasks only (e.g. Mbpp/164)")
    parser.add_argument("--evalplus-python", type=Path, default=DEFAULT_EVALPLUS_PYTHON)
    parser.add_argument("--cache", type=Path, help="keep both sides' expected outputs here (default: a temporary dir)")
    args = parser.parse_args()
    tasks = {task_id: task for task_id, task in list(load_tasks(None).items())[: args.limit]
             if not args.tasks or task_id in args.tasks}
    planned = [(task_id, kind) for position, task_id in enumerate(tasks) for kind in kinds_for(position)]
    solutions = [(task_id, candidate(tasks[task_id], kind)) for task_id, kind in planned]
    workers = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="mlxbench-evalplus-") as scratch:
        cache = args.cache or Path(scratch) / "cache"
        partial = len(tasks) < len(load_tasks(None))  # EvalPlus wants every task of its file
        dataset = subset(Path(scratch), list(tasks)) if partial else MBPP_PLUS
        theirs, their_s = run_evalplus(args.evalplus_python, dataset, solutions, Path(scratch), cache / "evalplus",
                                       workers, memory_bytes=EVALPLUS_MEMORY_BYTES)
        ours, our_s = run_ours(tasks, solutions, dataset_digest(None), cache / "ours", workers)
    rows = compare(planned, theirs, ours)
    return report(rows, len(tasks), their_s, our_s)


def subset(scratch: Path, task_ids: list[str]) -> Path:
    """The shipped file's lines of these tasks only, as a file EvalPlus can read."""
    wanted = {f'{{"task_id": "{task_id}"' for task_id in task_ids}
    lines = read_text(MBPP_PLUS, "MBPP+").splitlines(keepends=True)
    path = scratch / "MbppPlus-subset.jsonl"
    path.write_text("".join(line for line in lines if line[: line.index(",")] in wanted))
    return path


def compare(planned, theirs, ours) -> list[dict]:
    seen: Counter = Counter()
    rows = []
    for task_id, kind in planned:
        index = seen[task_id]
        seen[task_id] += 1
        their, our = theirs[task_id][index], ours[task_id][index]
        their_base = their["base_status"] == "pass"
        their_plus = their_base and their["plus_status"] == "pass"
        rows.append({"task": task_id, "kind": kind, "theirs": (their_base, their_plus),
                     "ours": (our["base_passed"], our["plus_passed"]), "their_status": (their["base_status"],
                     their["plus_status"]), "our_verdict": our["verdict"], "our_detail": our["detail"]})
    return rows


def report(rows: list[dict], task_count: int, their_s: float, our_s: float) -> int:
    print(f"{len(rows)} candidates on {task_count} MBPP+ tasks; EvalPlus evaluate {their_s:.1f} s, ours {our_s:.1f} s")
    print(f"{'kind':28} {'candidates':>10} {'base agree':>11} {'plus agree':>11} {'base pass':>10} {'plus pass':>10}")
    for kind in KINDS:
        of_kind = [row for row in rows if row["kind"] == kind]
        base = sum(row["theirs"][0] == row["ours"][0] for row in of_kind)
        plus = sum(row["theirs"][1] == row["ours"][1] for row in of_kind)
        print(f"{kind:28} {len(of_kind):>10} {base:>5}/{len(of_kind):<5} {plus:>5}/{len(of_kind):<5} "
              f"{sum(row['ours'][0] for row in of_kind):>10} {sum(row['ours'][1] for row in of_kind):>10}")
    differing = [row for row in rows if row["theirs"] != row["ours"]]
    tasks_differing = {row["task"] for row in differing}
    print(f"tasks where every base and plus verdict agrees: {task_count - len(tasks_differing)}/{task_count}")
    unexplained = 0
    for row in differing:
        why = KNOWN.get((row["task"], row["kind"]))
        unexplained += why is None
        print(f"  {'known' if why else 'DIFFERS'} {row['task']} {row['kind']}: EvalPlus {row['their_status']}, "
              f"ours base={row['ours'][0]} plus={row['ours'][1]} ({row['our_verdict']}: {row['our_detail'][:120]})"
              + (f" — {why}" if why else ""))
    print("agreement: every verdict equal" if not differing else
          f"agreement: {len(rows) - len(differing)}/{len(rows)} candidates; {unexplained} unexplained")
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
