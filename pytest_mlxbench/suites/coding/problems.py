"""MBPP problems for the coding suite: the task text, the function to write, the original test
asserts and the reference solution.

Two file formats, JSON lines (gzipped or not), told apart per line by their keys:

* MBPP+ (EvalPlus's file; shipped, ``suites/evalplus/data/MbppPlus.jsonl.gz``): ``task_id``,
  ``prompt`` (a docstring holding the task text and one assert), ``entry_point``,
  ``canonical_solution`` and ``assertion`` (the original asserts, one per line);
* MBPP's original: ``task_id`` (a number, named ``Mbpp/<n>`` here), ``text``, ``code``,
  ``test_list`` (assert lines) and ``test_setup_code``; the function is the one the first assert calls.

Known data errors (:data:`KNOWN_DATA_ERRORS`): problems whose reference solution fails its own
asserts. They are asked and judged like the others (a model's answer passes or fails the asserts
as they are); only the reference's failure is expected of them.
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import functools
from pathlib import Path

from pytest_mlxbench.errors import BenchInputError
from pytest_mlxbench.sandbox.spec import Check
from pytest_mlxbench.suites.coding import program
from pytest_mlxbench.suites.evalplus.tasks import MBPP_PLUS, shipped_ids
from pytest_mlxbench.suites.records import read_json_lines, text_field, unique_ids

MBPP_PLUS_KEYS = ("task_id", "prompt", "entry_point", "canonical_solution", "assertion")
ORIGINAL_KEYS = ("task_id", "text", "code", "test_list")
FORMATS = (f"MBPP+ ({', '.join(MBPP_PLUS_KEYS)}) or MBPP's original format ({', '.join(ORIGINAL_KEYS)}, "
           "test_setup_code)")
KNOWN_DATA_ERRORS = {
    "Mbpp/164": "the reference adds 1 twice and the number itself to the divisors (div_sum(23) = 25.0, "
                "div_sum(47) = 49.0), so are_equivalent(23, 47) is False where the assert wants True",
    "Mbpp/295": "the reference sums every divisor, the number itself included (sum_div(8) = 15.0), where the "
                "asserts want the proper divisors (sum_div(8) == 7)",
}


@dataclasses.dataclass(frozen=True)
class MbppProblem:
    """One problem: write ``entry_point`` as ``text`` asks, so that the asserts of ``test`` pass."""

    task_id: str
    text: str
    entry_point: str
    test: str  # the original asserts, one statement per line
    setup: str  # MBPP's test_setup_code, run before the asserts
    canonical: str

    @property
    def canonical_program_code(self) -> str:
        return self.canonical

    @property
    def asserts(self) -> list[str]:
        return [line for line in self.test.splitlines() if line.strip()]

    def candidate_program(self, code: str) -> str:
        return code

    def judge_check(self) -> Check:
        return program.judge_check(self)

    def whole_program(self, code: str) -> str:
        return program.whole_program(self, code)


def task_ids(spec: str | None) -> list[str]:
    """Ids of ``--coding-dataset`` (None: the shipped MBPP+), read without parsing its inputs when shipped."""
    return shipped_ids(MBPP_PLUS) if spec is None else list(load_problems(spec))


@functools.cache
def load_problems(spec: str | None) -> dict[str, MbppProblem]:
    """The problems by id, from the shipped MBPP+ (None) or a file in either format."""
    rows = read_json_lines(Path(spec) if spec else MBPP_PLUS, "MBPP problems file")
    problems = [_problem(where, row) for where, row in rows]
    unique_ids([problem.task_id for problem in problems], f"MBPP problems file {spec}")
    return {problem.task_id: problem for problem in problems}


def _problem(where: str, row: dict) -> MbppProblem:
    if all(key in row for key in MBPP_PLUS_KEYS):
        return _from_mbpp_plus(where, row)
    if all(key in row for key in ORIGINAL_KEYS):
        return _from_original(where, row)
    raise BenchInputError(f"{where}: neither format's keys: give {FORMATS}")


def _from_mbpp_plus(where: str, row: dict) -> MbppProblem:
    fields = {key: text_field(row, key, where, FORMATS) for key in MBPP_PLUS_KEYS}
    text = "\n".join(line for line in _docstring(where, fields["prompt"]).splitlines()
                     if not line.lstrip().startswith("assert "))
    return _checked(where, MbppProblem(fields["task_id"], text.strip(), fields["entry_point"],
                                       _statements(fields["assertion"]), "", fields["canonical_solution"]))


def _from_original(where: str, row: dict) -> MbppProblem:
    task_id = row["task_id"]
    if not isinstance(task_id, (int, str)) or isinstance(task_id, bool):
        raise BenchInputError(f"{where}: task_id must be a number or a string")
    asserts = row["test_list"]
    if not isinstance(asserts, list) or not asserts or not all(isinstance(line, str) for line in asserts):
        raise BenchInputError(f"{where}: test_list must be a non-empty list of assert lines")
    setup = row.get("test_setup_code") or ""
    if not isinstance(setup, str):
        raise BenchInputError(f"{where}: test_setup_code must be a string")
    test = _statements("\n".join(asserts))
    name = f"Mbpp/{task_id}" if isinstance(task_id, int) else task_id
    problem = MbppProblem(name, text_field(row, "text", where, FORMATS).strip(), _called_function(where, test, setup),
                          test, setup, text_field(row, "code", where, FORMATS).replace("\r\n", "\n"))
    return _checked(where, problem)


def _docstring(where: str, prompt: str) -> str:
    """The text of MBPP+'s prompt, a docstring: the task, then one of its asserts."""
    try:
        text = ast.literal_eval(prompt.strip())
    except (SyntaxError, ValueError):
        raise BenchInputError(f"{where}: prompt is not a Python string literal (MBPP+'s prompt is a docstring)") from None
    if not isinstance(text, str):
        raise BenchInputError(f"{where}: prompt is not a Python string literal (MBPP+'s prompt is a docstring)")
    return text


def _statements(test: str) -> str:
    return "\n".join(line.rstrip() for line in test.strip("\n").splitlines() if line.strip()) + "\n"


def _called_function(where: str, test: str, setup: str) -> str:
    """The function the asserts are about: the first one they call that is neither a builtin nor
    the setup code's (``set(similar_elements(...))`` names ``similar_elements``)."""
    tree = _parse(where, test, "test_list")
    defined = program.defined_names(setup)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            name = node.func.id
            if not hasattr(builtins, name) and name not in defined:
                return name
    raise BenchInputError(f"{where}: the asserts of test_list call no function to write")


def _checked(where: str, problem: MbppProblem) -> MbppProblem:
    if not problem.entry_point.isidentifier():
        raise BenchInputError(f"{where}: entry_point {problem.entry_point!r} is not a Python function name")
    _parse(where, problem.test, "the asserts")
    return problem


def _parse(where: str, code: str, what: str) -> ast.Module:
    try:
        return ast.parse(code)
    except SyntaxError as error:
        raise BenchInputError(f"{where}: {what} is not valid Python ({error.msg}, line {error.lineno})") from None
