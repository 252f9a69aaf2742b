"""One tool-calling case: the cases of a run, the request sent for a case, and sending it."""

from __future__ import annotations

import copy

import pytest_mlxbench
from pytest_mlxbench.backends.chat import Completion
from pytest_mlxbench.suites import shipped_file
from pytest_mlxbench.suites.rows import failed_request_sample
from pytest_mlxbench.suites.tool_calling.bfcl import (
    ToolCase,
    load_cases,
    to_openai_tools,
)

SHIPPED_QUESTIONS = shipped_file(__package__, "questions.jsonl")
SHIPPED_ANSWERS = shipped_file(__package__, "possible_answers.jsonl")


def suite_cases(settings) -> list[ToolCase]:
    """The cases this run uses: --tool-cases/--tool-answers, else the shipped set."""
    if settings.tool_cases is None:
        return load_cases(SHIPPED_QUESTIONS, SHIPPED_ANSWERS)
    return load_cases(settings.tool_cases, settings.tool_answers)


def case_source(settings) -> dict:
    if settings.tool_cases is None:
        return {"questions": "shipped", "answers": "shipped"}
    answers = settings.tool_answers.name if settings.tool_answers else None
    return {"questions": settings.tool_cases.name, "answers": answers}


def chat_request(case: ToolCase, model: str, gen_kwargs: dict) -> dict:
    """The chat-completion request for a case (keyword arguments of ``chat.completions.create``)."""
    return {"model": model, "messages": copy.deepcopy(case.messages), "tools": to_openai_tools(case.functions),
            **gen_kwargs}


def send(client, endpoint, request: dict, sample: dict, record_sample) -> Completion:
    """Send the request and time it; a failed request is recorded and fails the test (harness error)."""
    return pytest_mlxbench.ask(client, endpoint, request, on_failure=failed_request_sample(sample, record_sample))
