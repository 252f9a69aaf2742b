"""EvalPlus-format tasks (MBPP+ and HumanEval+): the files, the tasks, and the argument types
EvalPlus gives MBPP+'s inputs.

A file is JSON lines (gzipped or not), one task per line, as EvalPlus releases them: ``task_id``,
``prompt``, ``entry_point``, ``canonical_solution``, ``base_input`` and ``plus_input`` (lists of
argument lists), ``atol`` (float tolerance, 0 for exact) and ``contract`` (asserts on the inputs,
for the reference only). MBPP+ v0.1.0 ships (``data/MbppPlus.jsonl.gz``, 399 tasks); HumanEval+
comes from the ``evalplus`` package's own loader (it downloads); anything else is ``--evalplus-dataset FILE``.

Collection needs only the task ids: for the shipped file they are read without parsing the inputs
(:func:`task_ids`), the tasks themselves when a test first asks (:func:`load_tasks`, once per process).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import re
from pathlib import Path

from pytest_mlxbench.errors import BenchInputError
from pytest_mlxbench.suites import shipped_file
from pytest_mlxbench.suites.records import (
    read_json_lines,
    read_text,
    text_field,
    unique_ids,
)

MBPP_PLUS = shipped_file(__package__, "MbppPlus.jsonl.gz")
HUMANEVAL_PLUS = "humaneval+"
FORMAT = "EvalPlus's format: task_id, prompt, entry_point, canonical_solution, base_input, plus_input, atol, contract"
_SHIPPED_ID = re.compile(r'^\{"task_id": "([^"]+)"', re.MULTILINE)
_INSTALL = "pip install 'pytest-mlxbench[evalplus]'"


@dataclasses.dataclass(frozen=True)
class EvalPlusTask:
    """One task: complete ``prompt`` with ``entry_point`` so that it returns what
    ``canonical_solution`` returns on every input of ``base_input`` and ``plus_input``."""

    task_id: str
    prompt: str
    entry_point: str
    canonical_solution: str
    base_input: list
    plus_input: list
    atol: float
    contract: str

    @property
    def rules(self) -> str:
        """Whose special rules apply (EvalPlus keys them by its two datasets): mbpp, humaneval or none."""
        prefix = self.task_id.split("/", 1)[0].lower()
        return prefix if prefix in ("mbpp", "humaneval") else ""

    @property
    def test(self) -> str:  # extraction's CodeProblem protocol: no test text, the inputs are the tests
        return ""


def task_ids(spec: str | None) -> list[str]:
    """The ids of the tasks of ``--evalplus-dataset`` (``None``: the shipped MBPP+), in file order."""
    if spec is None:
        return shipped_ids(MBPP_PLUS)
    return list(load_tasks(spec))


@functools.cache
def shipped_ids(path: Path) -> list[str]:
    """Ids of a shipped EvalPlus file, read off each line's start (its inputs are not parsed)."""
    return _SHIPPED_ID.findall(read_text(path, "EvalPlus tasks file"))


@functools.cache
def load_tasks(spec: str | None) -> dict[str, EvalPlusTask]:
    """The tasks by id: the shipped MBPP+ (``None``), HumanEval+ through evalplus, or a file."""
    if spec == HUMANEVAL_PLUS:
        rows = [(f"HumanEval+ {task_id}", row) for task_id, row in _humaneval_plus()[0].items()]
    else:
        rows = read_json_lines(Path(spec) if spec else MBPP_PLUS, "EvalPlus tasks file")
    tasks = [_task(where, row) for where, row in rows]
    unique_ids([task.task_id for task in tasks], f"EvalPlus tasks file {spec}")
    return {task.task_id: task for task in tasks}


def dataset_digest(spec: str | None) -> str:
    """What names a dataset's version in the expected-outputs cache: a hash of its file."""
    if spec == HUMANEVAL_PLUS:
        return "humanevalplus-" + _humaneval_plus()[1]
    return hashlib.sha256(Path(spec or MBPP_PLUS).read_bytes()).hexdigest()[:32]


def dataset_label(spec: str | None) -> str:
    return "mbpp+" if spec is None else spec if spec == HUMANEVAL_PLUS else Path(spec).name


@functools.cache
def _humaneval_plus() -> tuple[dict, str]:
    try:
        from evalplus.data import get_human_eval_plus, get_human_eval_plus_hash
    except ImportError as error:
        raise BenchInputError(f"--evalplus-dataset humaneval+ needs the evalplus package ({error}): {_INSTALL}, "
                              "or give --evalplus-dataset FILE (a HumanEvalPlus.jsonl file)") from None
    try:
        return get_human_eval_plus(), get_human_eval_plus_hash()
    except Exception as error:  # noqa: BLE001 - offline, its download fails in many ways
        reason = (str(error).splitlines() or [type(error).__name__])[0][:200]
        raise BenchInputError(f"--evalplus-dataset humaneval+: evalplus could not get HumanEval+ ({reason}); offline? "
                              "download HumanEvalPlus.jsonl.gz from github.com/evalplus/humanevalplus_release and "
                              "give --evalplus-dataset FILE") from None


def _task(where: str, row: dict) -> EvalPlusTask:
    fields = {key: text_field(row, key, where, FORMAT) for key in ("task_id", "prompt", "entry_point",
                                                                    "canonical_solution")}
    if not fields["entry_point"].isidentifier():
        raise BenchInputError(f"{where}: entry_point {fields['entry_point']!r} is not a Python function name")
    inputs = {}
    for key in ("base_input", "plus_input"):
        value = row.get(key)
        if value == {}:  # Mbpp/793's plus_input in MBPP+ v0.1.0: no inputs, as EvalPlus reads it
            value = []
        if not isinstance(value, list) or not all(isinstance(args, list) for args in value):
            raise BenchInputError(f"{where}: {key} must be a list of argument lists ({FORMAT})")
        inputs[key] = argument_lists(fields["task_id"], value)
    atol = row.get("atol", 0)
    if not isinstance(atol, (int, float)) or isinstance(atol, bool) or not atol >= 0:
        raise BenchInputError(f"{where}: atol must be a number >= 0, got {atol!r}")
    contract = row.get("contract") or ""
    if not isinstance(contract, str):
        raise BenchInputError(f"{where}: contract must be a string of asserts")
    return EvalPlusTask(**fields, **inputs, atol=atol, contract=contract)


def argument_lists(task_id: str, inputs: list) -> list:
    """MBPP+ inputs with the argument types EvalPlus gives them (JSON has no tuples, sets or complex
    numbers: EvalPlus converts them per task, by the MBPP task number); other tasks' unchanged."""
    prefix, _, number = task_id.partition("/")
    convert = _MBPP_ARGUMENT_TYPES.get(int(number)) if prefix == "Mbpp" and number.isdigit() else None
    return [list(convert(args)) for args in inputs] if convert else inputs


def _tuples(args):  # every argument becomes a tuple
    return [tuple(arg) for arg in args]


def _lists_of_tuples(args):  # every argument is a list of tuples
    return [[tuple(item) for item in arg] for arg in args]


def _deep_tuples(value):
    return tuple(_deep_tuples(item) for item in value) if isinstance(value, list) else value


def _by_tasks(numbers: str, convert) -> dict:
    return dict.fromkeys(map(int, numbers.split()), convert)


_MBPP_ARGUMENT_TYPES = {
    **_by_tasks("2 116 132 143 222 261 273 394 399 421 424 429 470 560 579 596 616 630 726 740 744 809", _tuples),
    **_by_tasks("63 64 70 94 120 237 272 299 400 409 417 438 473 614 780", _lists_of_tuples),
    **_by_tasks("75 413 444 753", lambda args: [[tuple(item) for item in args[0]], args[1]]),
    **_by_tasks("106 750", lambda args: [args[0], tuple(args[1])]),
    115: lambda args: [[set(item) if isinstance(item, list) and item else {} for item in args[0]]],
    124: lambda args: [float(args[0]), complex(args[1])],
    **_by_tasks("250 405 446 617 720 763 808", lambda args: [tuple(args[0]), args[1]]),
    **_by_tasks("259 401 445", lambda args: _tuples(_lists_of_tuples(args))),
    278: lambda args: [tuple(tuple(item) if isinstance(item, list) else item for item in args[0])],
    307: lambda args: [tuple(args[0]), args[1], args[2]],
    722: lambda args: [{key: tuple(value) for key, value in args[0].items()}, *args[1:]],
    252: lambda args: [complex(args[0])],
    **_by_tasks("580 615 791", _deep_tuples),
}
