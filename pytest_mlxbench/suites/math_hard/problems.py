"""MATH problems, the level selection and the chat prompt of lm-eval's ``minerva_math`` tasks.

A problem file is JSON lines (``.gz`` too) in MATH's format: ``problem``; ``solution`` (the worked
solution with a ``\\boxed{}`` answer) or ``answer`` (the final answer) or both; ``level`` (``5`` or
``"Level 5"``; a level MATH marks ``"Level ?"`` is never selected); ``subject`` (or MATH's
``type``). An optional ``id`` or ``unique_id`` names the case, else it is ``math_<line index>``. The
shipped file is MATH-500 (the PRM800K test subset of Hendrycks' MATH, MIT); its 134 level-5
problems are the default selection.

The prompt is lm-eval's ``minerva_math`` (and ``minerva_math500``) run with
``--apply_chat_template --fewshot_as_multiturn``: the four Minerva exemplars (Lewkowycz et al.,
2022) as user/assistant turns, user ``"Problem:\\n<problem>\\n\\nSolution:"``, the assistant's worked
solution ending ``"Final Answer: The final answer is $X$. I hope it is correct."``; then the
problem. Generation stops at ``"Problem:"``.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from pytest_mlxbench.errors import BenchInputError
from pytest_mlxbench.suites import shipped_file
from pytest_mlxbench.suites.few_shot import exemplars, few_shot_messages
from pytest_mlxbench.suites.math_hard.answers import last_boxed
from pytest_mlxbench.suites.records import read_json_lines, text_field, unique_ids

DATA_PACKAGE = "pytest_mlxbench.suites.math_hard"
SHIPPED_NAME = "math500_test.jsonl.gz"
EXEMPLARS_NAME = "minerva_exemplars.json"
LEVELS = (1, 2, 3, 4, 5)
DEFAULT_LEVELS = frozenset({5})
STOP = ("Problem:",)
FORMAT = "MATH format: 'problem', 'solution' or 'answer', 'level', 'subject'"


@dataclasses.dataclass(frozen=True)
class Problem:
    id: str
    problem: str
    answer: str  # the reference final answer (LaTeX, without \boxed)
    solution: str | None
    level: int | None
    subject: str


def shipped_path() -> Path:
    return shipped_file(DATA_PACKAGE, SHIPPED_NAME)


def parse_levels(text: str) -> frozenset[int]:
    """``"5"``, ``"4,5"``, ``"1-5"``, ``"1-3,5"`` → the set of levels; anything else is one line."""
    levels: set[int] = set()
    for part in text.replace(" ", "").split(","):
        match = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not match:
            raise BenchInputError(f"--math-levels {text!r} is not a list of levels: give e.g. 5, 4,5 or 1-5")
        low, high = int(match.group(1)), int(match.group(2) or match.group(1))
        if low > high or low not in LEVELS or high not in LEVELS:
            raise BenchInputError(f"--math-levels {text!r} names an unknown level: MATH levels are 1 to 5")
        levels.update(range(low, high + 1))
    return frozenset(levels)


def load_problems(path: Path | None = None, levels: frozenset[int] = DEFAULT_LEVELS) -> list[Problem]:
    """The problems of a MATH-format file (MATH-500 when ``path`` is None) at the given levels."""
    path = path or shipped_path()
    what = "--math-dataset"
    every = [_problem(index, where, record) for index, (where, record) in enumerate(read_json_lines(path, what))]
    chosen = [problem for problem in every if problem.level in levels]
    if not chosen:
        raise BenchInputError(f"{what} {path} has no problems at level(s) {','.join(map(str, sorted(levels)))}: "
                              "choose others with --math-levels, e.g. --math-levels 1-5")
    unique_ids([problem.id for problem in chosen], f"{what} {path}")
    return chosen


def _problem(index: int, where: str, record: dict) -> Problem:
    solution = record.get("solution") if isinstance(record.get("solution"), str) else None
    answer = record.get("answer")
    if not isinstance(answer, str) or not answer.strip():
        answer = last_boxed(solution) if solution else None
    if answer is None:
        raise BenchInputError(f"{where}: no reference answer: give 'answer', or a 'solution' with a \\boxed{{}} answer ({FORMAT})")
    subject = record.get("subject") or record.get("type") or "unknown"
    case_id = str(record.get("id") or record.get("unique_id") or f"math_{index}")
    return Problem(case_id, text_field(record, "problem", where, FORMAT), answer.strip(), solution,
                   _level(record, where), str(subject))


def _level(record: dict, where: str) -> int | None:
    if "level" not in record:
        raise BenchInputError(f"{where}: field 'level' is missing ({FORMAT})")
    value = record["level"]
    if isinstance(value, bool):
        value = str(value)
    if isinstance(value, int):
        return value
    match = re.fullmatch(r"(?:Level\s*)?(\d+)", str(value).strip())
    return int(match.group(1)) if match else None


def user_turn(problem: str) -> str:
    return f"Problem:\n{problem}\n\nSolution:"


def chat_messages(problem: Problem) -> list[dict]:
    """The chat messages for a problem: the four Minerva exemplars as turns, then the problem."""
    turns = [(user_turn(shot["problem"]), shot["solution"]) for shot in exemplars(DATA_PACKAGE, EXEMPLARS_NAME)]
    return few_shot_messages(turns, user_turn(problem.problem))
