"""Drive a task through smolagents' ToolCallingAgent with an OpenAIServerModel.

smolagents ends a run only when the model calls its built-in ``final_answer``
tool; a plain-text reply counts as a parsing error and the agent tries again
until its step limit. That framework behaviour is measured as is. The
built-in tool is not ours, so it is not in the tool-call log.
"""

from __future__ import annotations

from typing import Any

from pytest_mlxbench.suites.framework_eval.agent_settings import AgentSettings
from pytest_mlxbench.suites.framework_eval.tasks import AgentTask
from pytest_mlxbench.suites.framework_eval.tools import Toolset, ToolSpec
from pytest_mlxbench.suites.framework_eval.transcript import Transcript, plain_data

_STEP_LIMIT_STATE = "max_steps_error"


def drive(task: AgentTask, endpoint: AgentSettings, toolset: Toolset, transcript: Transcript, max_steps: int) -> None:
    agent = build_agent(task, endpoint, toolset, max_steps)
    result = agent.run(task.prompt, return_full_result=True)
    transcript.hit_step_limit = result.state == _STEP_LIMIT_STATE
    transcript.final_answer = "" if result.output is None else str(result.output)
    transcript.steps = sum(1 for step in result.steps if "step_number" in step)
    transcript.messages = plain_data([message.dict() for message in agent.write_memory_to_messages()])
    if result.token_usage is not None:
        transcript.prompt_tokens = result.token_usage.input_tokens
        transcript.completion_tokens = result.token_usage.output_tokens


def build_agent(task: AgentTask, endpoint: AgentSettings, toolset: Toolset, max_steps: int) -> Any:
    """A quiet ToolCallingAgent whose tools are ours, each call going through the toolset's log."""
    from smolagents import LogLevel, OpenAIServerModel, ToolCallingAgent

    model = OpenAIServerModel(
        model_id=endpoint.model,
        api_base=endpoint.base_url,
        api_key=endpoint.api_key,
        client_kwargs={"timeout": endpoint.timeout_s, "max_retries": 0},
        temperature=endpoint.temperature,
        max_tokens=endpoint.max_tokens,
    )
    return ToolCallingAgent(
        tools=[_smolagents_tool(spec, toolset) for spec in toolset.specs],
        model=model,
        instructions=task.instructions,
        max_steps=max_steps,
        verbosity_level=LogLevel.OFF,
    )


def _smolagents_tool(spec: ToolSpec, toolset: Toolset) -> Any:
    from smolagents import Tool

    class LoggedTool(Tool):
        name = spec.name
        description = spec.description
        inputs = {
            parameter: {"type": "string", "description": schema["description"]}
            for parameter, schema in spec.parameters["properties"].items()
        }
        output_type = "string"
        skip_forward_signature_validation = True  # forward takes **arguments, not named parameters

        def forward(self, *positional: Any, **arguments: Any) -> str:
            return toolset.call(spec.name, positional[0] if positional else arguments)

    return LoggedTool()
