"""GSM8K problems and the chat prompt of lm-eval's ``gsm8k_cot`` task.

A problem file is JSON lines (``.gz`` too) in GSM8K's format: ``question`` and ``answer``, the
answer's final number after ``#### `` (e.g. ``"... 9 * 2 = 18\\n#### 18"``); an optional ``id``
names the case, else it is ``gsm8k_<line index>``. The shipped file is GSM8K's full test split
(1,319 problems, MIT, ``data/LICENSE-gsm8k``).

The prompt is lm-eval's ``gsm8k_cot`` run with ``--apply_chat_template --fewshot_as_multiturn``:
the eight chain-of-thought exemplars of Wei et al. (2022) as user/assistant turns (user
``"Q: <question>\\nA:"``, assistant the worked answer ending ``"The answer is N."``), then the
problem as the last user turn; no system message. Generation stops at ``STOP`` (lm-eval's
``until``), which the suite also applies to the reply in case a server ignores ``stop``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from pytest_mlxbench.errors import BenchInputError
from pytest_mlxbench.suites import shipped_file
from pytest_mlxbench.suites.few_shot import exemplars, few_shot_messages
from pytest_mlxbench.suites.records import read_json_lines, text_field, unique_ids

DATA_PACKAGE = "pytest_mlxbench.suites.reasoning"
SHIPPED_NAME = "gsm8k_test.jsonl.gz"
EXEMPLARS_NAME = "cot_exemplars.json"
ANSWER_MARK = "####"
STOP = ("Q:", "</s>", "<|im_end|>")  # lm-eval gsm8k_cot's generation_kwargs.until
FORMAT = "GSM8K format: 'question', and 'answer' ending with '#### <number>'"


@dataclasses.dataclass(frozen=True)
class Problem:
    id: str
    question: str
    answer: str  # the full worked answer, as in the file

    @property
    def target(self) -> str:
        """The reference lm-eval compares against: the text after the last ``####``, stripped."""
        return self.answer.split(ANSWER_MARK)[-1].strip()


def shipped_path() -> Path:
    return shipped_file(DATA_PACKAGE, SHIPPED_NAME)


def load_problems(path: Path | None = None) -> list[Problem]:
    """The problems of a GSM8K-format file (the shipped test split when ``path`` is None)."""
    path = path or shipped_path()
    what = "--reasoning-dataset"
    problems = []
    for index, (where, record) in enumerate(read_json_lines(path, what)):
        answer = text_field(record, "answer", where, FORMAT)
        if ANSWER_MARK not in answer or not answer.split(ANSWER_MARK)[-1].strip():
            raise BenchInputError(f"{where}: 'answer' has no final number after '{ANSWER_MARK} ' ({FORMAT})")
        case_id = str(record.get("id") or f"gsm8k_{index}")
        problems.append(Problem(case_id, text_field(record, "question", where, FORMAT), answer))
    unique_ids([problem.id for problem in problems], f"{what} {path}")
    return problems


def user_turn(question: str) -> str:
    return f"Q: {question}\nA:"


def chat_messages(problem: Problem) -> list[dict]:
    """The chat messages for a problem: the eight exemplars as turns, then the problem."""
    turns = [(user_turn(shot["question"]), shot["answer"]) for shot in exemplars(DATA_PACKAGE, EXEMPLARS_NAME)]
    return few_shot_messages(turns, user_turn(problem.question))
