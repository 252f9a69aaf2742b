"""Drive a task through the OpenAI Agents SDK (`agents`) on a Chat Completions endpoint.

Tracing is disabled both globally and per run: the SDK would otherwise try to
export traces to OpenAI's servers.
"""

from __future__ import annotations

from typing import Any

from pytest_mlxbench.suites.framework_eval.agent_settings import AgentSettings
from pytest_mlxbench.suites.framework_eval.frameworks.async_bridge import run_coroutine
from pytest_mlxbench.suites.framework_eval.tasks import AgentTask
from pytest_mlxbench.suites.framework_eval.tools import Toolset, ToolSpec
from pytest_mlxbench.suites.framework_eval.transcript import Transcript, plain_data


def drive(task: AgentTask, endpoint: AgentSettings, toolset: Toolset, transcript: Transcript, max_steps: int) -> None:
    from agents import set_tracing_disabled

    set_tracing_disabled(True)
    run_coroutine(lambda: _run(task, endpoint, toolset, transcript, max_steps))


async def _run(
    task: AgentTask, endpoint: AgentSettings, toolset: Toolset, transcript: Transcript, max_steps: int
) -> None:
    from agents import (
        Agent,
        ModelSettings,
        OpenAIChatCompletionsModel,
        RunConfig,
        Runner,
    )
    from agents.exceptions import MaxTurnsExceeded

    client = endpoint.async_client()
    agent = Agent(
        name="support-agent",
        instructions=task.instructions,
        model=OpenAIChatCompletionsModel(model=endpoint.model, openai_client=client),
        model_settings=ModelSettings(temperature=endpoint.temperature, max_tokens=endpoint.max_tokens),
        tools=[_function_tool(spec, toolset) for spec in toolset.specs],
    )
    try:
        result = await Runner.run(
            agent, task.prompt, max_turns=max_steps, run_config=RunConfig(tracing_disabled=True)
        )
    except MaxTurnsExceeded as exceeded:
        transcript.hit_step_limit = True
        _record_partial(exceeded, transcript)
        transcript.messages.insert(0, _system_message(task))
        return
    finally:
        await client.close()
    transcript.final_answer = "" if result.final_output is None else str(result.final_output)
    transcript.messages = [_system_message(task), *plain_data(result.to_input_list())]
    _record_responses(result.raw_responses, transcript)


def _system_message(task: AgentTask) -> dict[str, Any]:
    # The SDK sends instructions as a system message but leaves them out of its input list.
    return {"role": "system", "content": task.instructions}


def _function_tool(spec: ToolSpec, toolset: Toolset) -> Any:
    from agents import FunctionTool

    async def invoke(_context: Any, arguments_json: str) -> str:
        return toolset.call_json(spec.name, arguments_json)

    return FunctionTool(
        name=spec.name,
        description=spec.description,
        params_json_schema=spec.parameters,
        on_invoke_tool=invoke,
        strict_json_schema=False,  # send the schema exactly as the other runners do
    )


def _record_partial(exceeded: Any, transcript: Transcript) -> None:
    run_data = getattr(exceeded, "run_data", None)
    if run_data is None:
        return
    _record_responses(run_data.raw_responses, transcript)
    transcript.messages = plain_data([item.to_input_item() for item in run_data.new_items])


def _record_responses(responses: list[Any], transcript: Transcript) -> None:
    transcript.steps = len(responses)
    usages = [response.usage for response in responses if response.usage and response.usage.requests]
    if usages:
        transcript.prompt_tokens = sum(usage.input_tokens for usage in usages)
        transcript.completion_tokens = sum(usage.output_tokens for usage in usages)
