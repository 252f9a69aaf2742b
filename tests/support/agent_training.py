"""Training examples that teach the tiny model one successful agent run of the order-status task.

Shared by the agent tests: the same examples give the same trained model, so the overfit cache
(``support.overfit``) trains it once for all of them.
"""

from __future__ import annotations

import json

from pytest_mlxbench.suites.framework_eval.baseline import (
    assistant_tool_calls_message,
    initial_messages,
    tool_result_message,
)
from pytest_mlxbench.suites.framework_eval.fixture_data import FixtureData
from pytest_mlxbench.suites.framework_eval.tasks import AgentTask
from pytest_mlxbench.suites.framework_eval.tools import Toolset
from support.overfit import Example

SEED = 4242  # the fixture seed the agent tests train and run with
TOOL_CALL_ID = "call_0"
# The "strict" flag each runner puts on its tools: the baseline and langgraph send none,
# openai-agents sends false, pydantic-ai true. The model is overfit on all three renderings.
STRICT_FLAGS = (None, False, True)
# smolagents wraps the task in its own long ReAct prompt and must end with its final_answer
# tool: too long to overfit here, so the trained model only gets it to a verdict.
FRAMEWORKS_TRAINED = ("openai-agents", "langgraph", "pydantic-ai")


def order_status_answer(fixture: FixtureData) -> str:
    return f"The status of order {fixture.order_id} is {fixture.order_status}."


def order_status_examples(task: AgentTask, fixture: FixtureData) -> list[Example]:
    """The two replies of a successful run, on exactly the messages the baseline loop sends,
    with the tool list rendered as each runner sends it."""
    tools = Toolset(fixture.directory, task.tool_names)
    arguments = json.dumps({"order_id": fixture.order_id})
    call_text = f'<tool_call>\n{{"name": "get_order_status", "arguments": {arguments}}}\n</tool_call>'
    after_call = [
        *initial_messages(task),
        assistant_tool_calls_message("", [(TOOL_CALL_ID, "get_order_status", arguments)]),
        tool_result_message(TOOL_CALL_ID, tools.call_json("get_order_status", arguments)),
    ]
    answer = order_status_answer(fixture)
    examples = []
    for strict in STRICT_FLAGS:
        schemas = _with_strict_flag(tools.openai_schemas(), strict)
        examples += [Example(initial_messages(task), call_text, schemas), Example(after_call, answer, schemas)]
    return examples


def _with_strict_flag(schemas: list[dict], strict: bool | None) -> list[dict]:
    if strict is None:
        return schemas
    return [{**schema, "function": {**schema["function"], "strict": strict}} for schema in schemas]
