"""Drive a task through Pydantic AI with an OpenAIChatModel on an OpenAI-compatible provider.

The agent is not instrumented (no Logfire/OpenTelemetry). The step limit is
Pydantic AI's request limit: one request per model call.
"""

from __future__ import annotations

from typing import Any

from pytest_mlxbench.suites.framework_eval.agent_settings import AgentSettings
from pytest_mlxbench.suites.framework_eval.frameworks.async_bridge import run_coroutine
from pytest_mlxbench.suites.framework_eval.tasks import AgentTask
from pytest_mlxbench.suites.framework_eval.tools import Toolset, ToolSpec
from pytest_mlxbench.suites.framework_eval.transcript import Transcript, plain_data


def drive(task: AgentTask, endpoint: AgentSettings, toolset: Toolset, transcript: Transcript, max_steps: int) -> None:
    run_coroutine(lambda: _run(task, endpoint, toolset, transcript, max_steps))


async def _run(
    task: AgentTask, endpoint: AgentSettings, toolset: Toolset, transcript: Transcript, max_steps: int
) -> None:
    from pydantic_ai import Agent, capture_run_messages
    from pydantic_ai.exceptions import UsageLimitExceeded
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider
    from pydantic_ai.usage import UsageLimits

    client = endpoint.async_client()
    agent = Agent(
        OpenAIChatModel(endpoint.model, provider=OpenAIProvider(openai_client=client)),
        instructions=task.instructions,
        tools=[_pydantic_ai_tool(spec, toolset) for spec in toolset.specs],
        model_settings={"temperature": endpoint.temperature, "max_tokens": endpoint.max_tokens},
    )
    with capture_run_messages() as messages:
        try:
            result = await agent.run(task.prompt, usage_limits=UsageLimits(request_limit=max_steps))
        except UsageLimitExceeded:
            transcript.hit_step_limit = True
            result = None
        finally:
            await client.close()
            _record_messages(messages, transcript)
    if result is not None:
        transcript.final_answer = "" if result.output is None else str(result.output)


def _pydantic_ai_tool(spec: ToolSpec, toolset: Toolset) -> Any:
    from pydantic_ai import Tool

    def call(**arguments: Any) -> str:
        return toolset.call(spec.name, arguments)

    return Tool.from_schema(call, name=spec.name, description=spec.description, json_schema=spec.parameters)


def _record_messages(messages: list[Any], transcript: Transcript) -> None:
    """Steps and tokens from the model responses, so they are known even when the run raised."""
    from pydantic_ai.messages import ModelMessagesTypeAdapter

    transcript.messages = plain_data(ModelMessagesTypeAdapter.dump_python(messages, mode="json"))
    responses = [message for message in messages if message.kind == "response"]
    transcript.steps = len(responses)
    if any(response.usage.input_tokens or response.usage.output_tokens for response in responses):
        transcript.prompt_tokens = sum(response.usage.input_tokens for response in responses)
        transcript.completion_tokens = sum(response.usage.output_tokens for response in responses)
