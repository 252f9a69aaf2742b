"""Drive a task through LangGraph's prebuilt ReAct agent with langchain-openai's ChatOpenAI.

LangSmith tracing is forced off for the run whatever the environment says.
Model requests and token usage are counted with a run-local callback, because
when the graph runs out of steps it replaces the last model reply (and its
usage) with a canned "need more steps" message.
"""

from __future__ import annotations

import threading
import warnings
from typing import Any

from pytest_mlxbench.suites.framework_eval.agent_settings import AgentSettings
from pytest_mlxbench.suites.framework_eval.tasks import AgentTask
from pytest_mlxbench.suites.framework_eval.tools import Toolset, ToolSpec
from pytest_mlxbench.suites.framework_eval.transcript import Transcript, plain_data

# LangGraph's own text when its remaining_steps run out (langgraph.prebuilt.chat_agent_executor).
_OUT_OF_STEPS_REPLY = "Sorry, need more steps to process this request."


def drive(task: AgentTask, endpoint: AgentSettings, toolset: Toolset, transcript: Transcript, max_steps: int) -> None:
    from langchain_core.messages import convert_to_openai_messages
    from langgraph.errors import GraphRecursionError
    from langsmith import tracing_context

    agent = _build_agent(task, endpoint, toolset)
    counter = _model_call_counter()
    # One model node and one tool node per step, so 2 supersteps per model request.
    config = {"recursion_limit": 2 * max_steps, "callbacks": [counter]}
    messages: list[Any] = []
    try:
        with tracing_context(enabled=False):
            for state in agent.stream({"messages": [("user", task.prompt)]}, config=config, stream_mode="values"):
                messages = state["messages"]
    except GraphRecursionError:
        transcript.hit_step_limit = True
    system = {"role": "system", "content": task.instructions}  # the graph adds it per request, not to its state
    transcript.messages = [system, *plain_data(convert_to_openai_messages(messages))]
    counter.record_into(transcript)
    _record_answer(messages, transcript)


def _build_agent(task: AgentTask, endpoint: AgentSettings, toolset: Toolset) -> Any:
    from langchain_openai import ChatOpenAI
    from langgraph.prebuilt import create_react_agent

    model = ChatOpenAI(
        model=endpoint.model,
        base_url=endpoint.base_url,
        api_key=endpoint.api_key,
        temperature=endpoint.temperature,
        max_tokens=endpoint.max_tokens,
        timeout=endpoint.timeout_s,
        max_retries=0,
    )
    tools = [_langchain_tool(spec, toolset) for spec in toolset.specs]
    with warnings.catch_warnings():
        # create_react_agent is deprecated in favour of langchain.agents, which needs the full langchain package.
        warnings.simplefilter("ignore")
        return create_react_agent(model, tools, prompt=task.instructions)


def _langchain_tool(spec: ToolSpec, toolset: Toolset) -> Any:
    from langchain_core.tools import StructuredTool

    def call(**arguments: Any) -> str:
        return toolset.call(spec.name, arguments)

    return StructuredTool.from_function(
        func=call, name=spec.name, description=spec.description, args_schema=spec.parameters
    )


def _record_answer(messages: list[Any], transcript: Transcript) -> None:
    from langchain_core.messages import AIMessage

    last = messages[-1] if messages else None
    if not isinstance(last, AIMessage) or last.tool_calls:
        return
    if last.content == _OUT_OF_STEPS_REPLY and not last.usage_metadata:
        transcript.hit_step_limit = True
        return
    transcript.final_answer = last.text if isinstance(last.text, str) else last.text()


def _model_call_counter() -> Any:
    from langchain_core.callbacks import BaseCallbackHandler

    class ModelCallCounter(BaseCallbackHandler):
        def __init__(self) -> None:
            self._lock = threading.Lock()
            self.requests = 0
            self.prompt_tokens: int | None = None
            self.completion_tokens: int | None = None

        def on_llm_end(self, response: Any, **_: Any) -> None:
            with self._lock:
                self.requests += 1
                for usage in _usages(response):
                    self.prompt_tokens = (self.prompt_tokens or 0) + usage.get("input_tokens", 0)
                    self.completion_tokens = (self.completion_tokens or 0) + usage.get("output_tokens", 0)

        def record_into(self, transcript: Transcript) -> None:
            transcript.steps = self.requests
            transcript.prompt_tokens = self.prompt_tokens
            transcript.completion_tokens = self.completion_tokens

    return ModelCallCounter()


def _usages(response: Any) -> list[dict[str, int]]:
    found = []
    for generations in response.generations:
        for generation in generations:
            usage = getattr(getattr(generation, "message", None), "usage_metadata", None)
            if usage:
                found.append(usage)
    return found
