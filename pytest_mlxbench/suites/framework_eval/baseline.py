"""The baseline runner: a plain tool loop on the openai client, no framework.

Each step is one chat completion. Tool calls in the reply are executed and
their results appended; a reply without tool calls is the final answer.
The message helpers are public so a trainer can build exactly the
conversation this loop sends.
"""

from __future__ import annotations

from typing import Any

from pytest_mlxbench.backends.chat import complete
from pytest_mlxbench.suites.framework_eval.agent_settings import AgentSettings
from pytest_mlxbench.suites.framework_eval.fixture_data import FixtureData
from pytest_mlxbench.suites.framework_eval.recorded_run import (
    DEFAULT_MAX_STEPS,
    run_recorded,
)
from pytest_mlxbench.suites.framework_eval.tasks import AgentTask
from pytest_mlxbench.suites.framework_eval.tools import Toolset
from pytest_mlxbench.suites.framework_eval.transcript import Transcript

RUNNER_NAME = "baseline"


def initial_messages(task: AgentTask) -> list[dict[str, Any]]:
    return [{"role": "system", "content": task.instructions}, {"role": "user", "content": task.prompt}]


def assistant_tool_calls_message(content: str, calls: list[tuple[str, str, str]]) -> dict[str, Any]:
    """The assistant turn that requested tools; calls are (call_id, tool name, arguments JSON text)."""
    return {
        "role": "assistant",
        "content": content,
        "tool_calls": [
            {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
            for call_id, name, arguments in calls
        ],
    }


def tool_result_message(call_id: str, result: str) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call_id, "content": result}


def run_baseline(
    task: AgentTask, endpoint: AgentSettings, fixture: FixtureData, *, max_steps: int = DEFAULT_MAX_STEPS
) -> Transcript:
    return run_recorded(RUNNER_NAME, _drive, task, endpoint, fixture, max_steps)


def _drive(task: AgentTask, endpoint: AgentSettings, toolset: Toolset, transcript: Transcript, max_steps: int) -> None:
    transcript.messages = initial_messages(task)
    with endpoint.client() as client:
        while transcript.steps < max_steps:
            transcript.steps += 1
            completion = complete(client, endpoint, {
                "model": endpoint.model, "messages": transcript.messages, "tools": toolset.openai_schemas(),
                "temperature": endpoint.temperature, "max_tokens": endpoint.max_tokens,
            })  # retries what is safe to retry; a failure is one line (HTTP status and body)
            _add_usage(transcript, completion.response.usage)
            message = completion.choice.message
            if not message.tool_calls:
                transcript.final_answer = message.content or ""
                transcript.messages.append({"role": "assistant", "content": transcript.final_answer})
                return
            _run_tool_calls(message, toolset, transcript)
    transcript.hit_step_limit = True


def _run_tool_calls(message: Any, toolset: Toolset, transcript: Transcript) -> None:
    calls = [(call.id, call.function.name, call.function.arguments) for call in message.tool_calls]
    transcript.messages.append(assistant_tool_calls_message(message.content or "", calls))
    for call_id, name, arguments in calls:
        transcript.messages.append(tool_result_message(call_id, toolset.call_json(name, arguments)))


def _add_usage(transcript: Transcript, usage: Any) -> None:
    if usage is None:
        return
    transcript.prompt_tokens = (transcript.prompt_tokens or 0) + (usage.prompt_tokens or 0)
    transcript.completion_tokens = (transcript.completion_tokens or 0) + (usage.completion_tokens or 0)
