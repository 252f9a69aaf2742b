"""The fixed agent tasks: prompt, tools offered, expected tool calls, expected facts.

Every task offers all tools, so choosing the right one (or none) is part of
the task. Rules the scorer applies:

- Tool tasks: the expected calls must appear in the given order with the given
  key arguments; other calls before, between or after them (retries, lookups)
  are allowed.
- The no-tool task (``expected_calls`` empty) fails on any tool call, as in
  BFCL's irrelevance category: a needless call is never rewarded.
- Every expected fact must appear in the final answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pytest_mlxbench.errors import BenchInputError
from pytest_mlxbench.suites.framework_eval.fixture_data import FixtureData
from pytest_mlxbench.suites.framework_eval.tools import TOOL_SPECS

INSTRUCTIONS = (
    "You are a customer support assistant. Use the tools when the question needs data you do not have; "
    "do not call tools otherwise. Answer in one short sentence."
)

ORDER_STATUS = "order-status"
CUSTOMER_BALANCE = "customer-balance"
NO_TOOL_ARITHMETIC = "no-tool-arithmetic"
TASK_IDS = (ORDER_STATUS, CUSTOMER_BALANCE, NO_TOOL_ARITHMETIC)


@dataclass(frozen=True)
class ExpectedCall:
    """A tool call the task needs; ``arguments`` holds the key arguments to match."""

    name: str
    arguments: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AgentTask:
    task_id: str
    prompt: str
    expected_calls: tuple[ExpectedCall, ...]
    expected_facts: tuple[str, ...]
    tool_names: tuple[str, ...] = tuple(TOOL_SPECS)
    instructions: str = INSTRUCTIONS

    @property
    def needs_tools(self) -> bool:
        return bool(self.expected_calls)


def build_tasks(fixture: FixtureData) -> tuple[AgentTask, ...]:
    """The tasks for one fixture, in TASK_IDS order; their facts come from the fixture."""
    return (
        AgentTask(
            task_id=ORDER_STATUS,
            prompt=f"What is the current status code of order {fixture.order_id}?",
            expected_calls=(ExpectedCall("get_order_status", {"order_id": fixture.order_id}),),
            expected_facts=(fixture.order_status,),
        ),
        AgentTask(
            task_id=CUSTOMER_BALANCE,
            prompt=(
                f"What is the account balance of our customer {fixture.customer_name}? "
                "Find the customer's id first, then look up the balance."
            ),
            expected_calls=(
                ExpectedCall("find_customer", {"name": fixture.customer_name}),
                ExpectedCall("get_balance", {"customer_id": fixture.customer_id}),
            ),
            expected_facts=(fixture.customer_balance,),
        ),
        AgentTask(
            task_id=NO_TOOL_ARITHMETIC,
            prompt=f"What is {fixture.addend_a} plus {fixture.addend_b}? Reply with the number.",
            expected_calls=(),
            expected_facts=(str(fixture.addend_a + fixture.addend_b),),
        ),
    )


def task_by_id(fixture: FixtureData, task_id: str) -> AgentTask:
    for task in build_tasks(fixture):
        if task.task_id == task_id:
            return task
    raise BenchInputError(f"unknown agent task {task_id!r}: use one of {', '.join(TASK_IDS)}")
