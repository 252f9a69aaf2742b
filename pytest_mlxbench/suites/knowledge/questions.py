"""Multiple-choice questions from ARC, MMLU and MMLU-Pro files (or the hub), in one shape.

``--knowledge-dataset`` takes:

* nothing: the shipped ARC-Challenge test split (1,172 questions, CC BY-SA 4.0, AI2);
* a JSON-lines file (``.gz`` too) whose records have a ``question``, the options as ARC's
  ``choices: {label, text}``, a ``choices`` or ``options`` list (cais/mmlu, MMLU-Pro) or the
  columns ``A``, ``B``, ``C``, ... (MMLU's CSV columns), and the answer as ``answerKey`` or
  ``answer`` (a letter, an option label or a 0-based index) or ``answer_index``; ``subject`` or
  ``category`` gives the per-subject rows, ``id`` names the case;
* a directory of MMLU's per-subject CSV files (``<subject>_test.csv``, rows
  ``question,A,B,C,D,answer``, no header);
* ``mmlu`` or ``mmlu-pro``: ``cais/mmlu`` (all subjects, test) or ``TIGER-Lab/MMLU-Pro`` (test)
  through the ``datasets`` package, when the Hugging Face hub is reachable.

Options are re-lettered A, B, C, ... in their order (ARC's numeric labels 1-4 become A-D).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import logging
import string
from pathlib import Path

from pytest_mlxbench.errors import BenchInputError
from pytest_mlxbench.suites import shipped_file
from pytest_mlxbench.suites.records import (
    read_json_lines,
    read_text,
    text_field,
    unique_ids,
)

DATA_PACKAGE = "pytest_mlxbench.suites.knowledge"
SHIPPED_NAME = "arc_challenge_test.jsonl.gz"
SHIPPED_SUBJECT = "arc_challenge"
HUB_DATASETS = {"mmlu": ("cais/mmlu", "all"), "mmlu-pro": ("TIGER-Lab/MMLU-Pro", None)}
LETTERS = string.ascii_uppercase
MAX_OPTIONS = 10
FORMAT = "'question', options as 'choices'/'options'/A,B,C,D, and 'answer' or 'answerKey'"
OFFLINE_HINT = ("give --knowledge-dataset a directory of MMLU's per-subject CSV files or a JSON-lines file "
                "(question, A, B, C, D, answer), or leave it out for the shipped ARC-Challenge set")


@dataclasses.dataclass(frozen=True)
class Question:
    id: str
    question: str
    options: tuple[str, ...]
    answer: int  # index into options
    subject: str

    @property
    def letters(self) -> str:
        return LETTERS[:len(self.options)]

    @property
    def answer_letter(self) -> str:
        return LETTERS[self.answer]


def load_questions(source: str | Path | None = None) -> list[Question]:
    """The questions of ``source`` (see the module docstring); the shipped ARC set when None."""
    if source is None:
        questions = _from_records(read_json_lines(shipped_file(DATA_PACKAGE, SHIPPED_NAME), "knowledge data"),
                                  SHIPPED_SUBJECT)
    elif str(source) in HUB_DATASETS:
        questions = _from_hub(str(source))
    elif Path(source).is_dir():
        questions = _from_csv_directory(Path(source))
    else:
        path = Path(source)
        questions = _from_records(read_json_lines(path, "--knowledge-dataset"), path.name.split(".")[0])
    unique_ids([question.id for question in questions], f"--knowledge-dataset {source or 'arc-challenge'}")
    return questions


def _from_records(records: list[tuple[str, dict]], default_subject: str) -> list[Question]:
    return [question_from_record(record, where, f"q{index}", default_subject)
            for index, (where, record) in enumerate(records)]


def question_from_record(record: dict, where: str, fallback_id: str, default_subject: str) -> Question:
    labels, options = _options(record, where)
    answer = _answer_index(record, labels, where)
    subject = record.get("subject") or record.get("category") or default_subject
    return Question(str(record.get("id") or record.get("question_id") or fallback_id), text_field(record, "question", where, FORMAT).strip(),
                    options, answer, str(subject))


def _options(record: dict, where: str) -> tuple[list[str], tuple[str, ...]]:
    """The options' original labels and texts."""
    choices = record.get("choices", record.get("options"))
    if isinstance(choices, dict):  # ARC: {"label": [...], "text": [...]}
        labels, texts = choices.get("label"), choices.get("text")
    elif isinstance(choices, list):
        labels, texts = list(LETTERS[:len(choices)]), choices
    else:
        present = [letter for letter in LETTERS[:MAX_OPTIONS] if letter in record]
        labels, texts = present, [record[letter] for letter in present]
    if not isinstance(texts, list) or not isinstance(labels, list) or len(labels) != len(texts):
        raise BenchInputError(f"{where}: the options are malformed ({FORMAT})")
    if not 2 <= len(texts) <= MAX_OPTIONS or not all(isinstance(text, (str, int, float)) for text in texts):
        raise BenchInputError(f"{where}: a question needs 2 to {MAX_OPTIONS} text options ({FORMAT})")
    return [str(label) for label in labels], tuple(str(text) for text in texts)


def _answer_index(record: dict, labels: list[str], where: str) -> int:
    value = record.get("answerKey", record.get("answer", record.get("answer_index")))
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(labels):
        return value
    text = str(value).strip() if value is not None else ""
    if text in labels:
        return labels.index(text)
    if len(text) == 1 and text in LETTERS[:len(labels)]:
        return LETTERS.index(text)
    raise BenchInputError(f"{where}: the answer {value!r} names none of the {len(labels)} options ({FORMAT})")


def _from_csv_directory(directory: Path) -> list[Question]:
    files = sorted(directory.glob("*.csv"))
    if not files:
        raise BenchInputError(f"--knowledge-dataset {directory} holds no .csv files: give MMLU's test directory "
                              "(<subject>_test.csv files with rows question,A,B,C,D,answer)")
    questions = []
    for path in files:
        subject = path.stem.removesuffix("_test")
        rows = list(csv.reader(io.StringIO(read_text(path, "--knowledge-dataset"))))
        if rows and [cell.strip().lower() for cell in rows[0]] == ["question", "a", "b", "c", "d", "answer"]:
            rows = rows[1:]
        for number, row in enumerate(rows, start=1):
            where = f"{path}:{number}"
            if len(row) != 6:
                raise BenchInputError(f"{where}: {len(row)} columns, MMLU's CSV rows are question,A,B,C,D,answer")
            record = dict(zip(("question", "A", "B", "C", "D", "answer"), row))
            questions.append(question_from_record(record, where, f"{subject}_{number - 1}", subject))
    return questions


def _from_hub(name: str) -> list[Question]:
    repo, config = HUB_DATASETS[name]
    try:
        import datasets
    except ImportError:
        raise BenchInputError(f"--knowledge-dataset {name} needs the datasets package (pip install datasets) and "
                              f"the Hugging Face hub; offline, {OFFLINE_HINT}") from None
    try:
        with _quiet_hub_retries():
            rows = datasets.load_dataset(repo, config, split="test")
    except Exception as error:  # noqa: BLE001 - offline, gated, renamed: all end the same way
        reason = " ".join(str(error).split())[:160] or type(error).__name__
        raise BenchInputError(f"--knowledge-dataset {name}: {repo} could not be loaded from the Hugging Face hub "
                              f"({reason}); offline, {OFFLINE_HINT}") from None
    return [question_from_record(dict(row), f"{repo} row {index}", f"{name}_{index}", name)
            for index, row in enumerate(rows)]


@contextlib.contextmanager
def _quiet_hub_retries():
    """Offline, huggingface_hub logs each retry; the one line that follows says it all."""
    loggers = [logging.getLogger(name) for name in ("huggingface_hub", "datasets")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)
