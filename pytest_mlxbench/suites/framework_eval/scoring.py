"""Pure scoring of one agent transcript against its task: 1.0 or 0.0 with a reason.

A pass needs the right calls (see the rules in tasks.py) AND every expected
fact in the final answer. A failed run, a step limit, or an empty answer is 0.
Facts compare after normalising case and whitespace; numeric facts compare by
value, so "12,345.60" and "12345.6" are equal (comma as thousands separator only).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from pytest_mlxbench.suites.framework_eval.tasks import AgentTask, ExpectedCall
from pytest_mlxbench.suites.framework_eval.transcript import ToolCallRecord, Transcript

_REASON_ECHO_LIMIT = 120
_NUMERIC_FACT = re.compile(r"\d+(?:\.\d+)?")
# A number standing alone in prose: not glued to letters or a decimal point before it.
_NUMBER_IN_TEXT = re.compile(r"(?<![\w.])(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?")


FAILURE_KINDS = ("framework_error", "step_limit", "empty_answer", "missing_tool_call", "unneeded_tool_call",
                 "wrong_answer")


@dataclass(frozen=True)
class TaskScore:
    score: float
    reason: str
    kind: str | None = None  # one of FAILURE_KINDS when the score is 0


def score(task: AgentTask, transcript: Transcript) -> TaskScore:
    """The first failing rule decides: the run itself, then the tool calls, then the answer's facts."""
    checks = (
        lambda: _run_failure(transcript),
        lambda: _call_failure(task, transcript.tool_calls),
        lambda: _fact_failure(task.expected_facts, transcript.final_answer),
    )
    for check in checks:
        failure = check()
        if failure is not None:
            kind, reason = failure
            return TaskScore(0.0, reason, kind)
    return TaskScore(1.0, "expected tool calls made and every expected fact is in the answer")


def fact_in_answer(fact: str, answer: str) -> bool:
    if _NUMERIC_FACT.fullmatch(fact):
        wanted = Decimal(fact)
        return any(_as_decimal(token) == wanted for token in _NUMBER_IN_TEXT.findall(answer))
    return _normalise_text(fact) in _normalise_text(answer)


Failure = tuple[str, str]  # (kind, reason)


def _run_failure(transcript: Transcript) -> Failure | None:
    if transcript.error:
        return "framework_error", f"run failed: {_shorten(transcript.error)}"
    if transcript.hit_step_limit:
        return "step_limit", f"hit the step limit after {transcript.steps} steps without a final answer"
    if not transcript.final_answer.strip():
        return "empty_answer", "final answer is empty"
    return None


def _call_failure(task: AgentTask, made: Sequence[ToolCallRecord]) -> Failure | None:
    if not task.needs_tools:
        if made:
            return "unneeded_tool_call", f"called {made[0].name} although the task needs no tool"
        return None
    position = 0
    for wanted in task.expected_calls:
        index = _find_call(wanted, made, start=position)
        if index is None:
            if _find_call(wanted, made, start=0) is not None:
                return "missing_tool_call", f"{_describe(wanted)} was called out of order"
            return "missing_tool_call", f"expected call {_describe(wanted)} was not made"
        position = index + 1
    return None


def _fact_failure(facts: Sequence[str], answer: str) -> Failure | None:
    for fact in facts:
        if not fact_in_answer(fact, answer):
            return "wrong_answer", f"answer lacks the expected fact {fact!r}: {_shorten(answer)!r}"
    return None


def _find_call(wanted: ExpectedCall, made: Sequence[ToolCallRecord], start: int) -> int | None:
    for index in range(start, len(made)):
        if made[index].name == wanted.name and _arguments_match(wanted.arguments, made[index].arguments):
            return index
    return None


def _arguments_match(wanted: dict[str, str], given: dict[str, Any]) -> bool:
    return all(
        key in given and _normalise_text(str(given[key])) == _normalise_text(value) for key, value in wanted.items()
    )


def _describe(call: ExpectedCall) -> str:
    arguments = ", ".join(f"{key}={value!r}" for key, value in call.arguments.items())
    return f"{call.name}({arguments})"


def _normalise_text(text: str) -> str:
    return " ".join(text.split()).casefold()


def _as_decimal(token: str) -> Decimal | None:
    try:
        return Decimal(token.replace(",", ""))
    except InvalidOperation:
        return None


def _shorten(text: str) -> str:
    return text if len(text) <= _REASON_ECHO_LIMIT else text[:_REASON_ECHO_LIMIT] + "..."
