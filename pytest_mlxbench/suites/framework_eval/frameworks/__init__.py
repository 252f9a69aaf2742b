"""Adapters that run the agent tasks through real agent frameworks.

Each framework is an optional dependency, imported only when probed or run.
Use ``available()`` to decide whether to skip; ``run()`` on a missing
framework raises BenchInputError with the install command.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
from dataclasses import dataclass

from pytest_mlxbench.errors import BenchInputError
from pytest_mlxbench.suites.framework_eval.agent_settings import AgentSettings
from pytest_mlxbench.suites.framework_eval.fixture_data import FixtureData
from pytest_mlxbench.suites.framework_eval.recorded_run import (
    DEFAULT_MAX_STEPS,
    run_recorded,
)
from pytest_mlxbench.suites.framework_eval.tasks import AgentTask
from pytest_mlxbench.suites.framework_eval.transcript import Transcript

INSTALL_COMMAND = "pip install 'pytest-mlxbench[frameworks]'"


@dataclass(frozen=True)
class FrameworkAdapter:
    """One framework: what must import for it to work, and the module that drives it."""

    name: str
    distribution: str
    required: tuple[str, ...]  # "module" or "module:attribute" entries that must import
    driver_module: str

    def available(self) -> tuple[bool, str]:
        missing = _first_unimportable(self.required)
        if missing is None:
            return True, f"{self.name} {self.version()} is installed"
        return False, f"{self.name} is not usable ({missing}): {INSTALL_COMMAND}"

    def version(self) -> str:
        try:
            return importlib.metadata.version(self.distribution)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    def run(
        self, task: AgentTask, endpoint: AgentSettings, fixture: FixtureData, *, max_steps: int = DEFAULT_MAX_STEPS
    ) -> Transcript:
        usable, reason = self.available()
        if not usable:
            raise BenchInputError(reason)
        drive = importlib.import_module(self.driver_module).drive
        return run_recorded(self.name, drive, task, endpoint, fixture, max_steps)


@functools.cache
def _first_unimportable(requirements: tuple[str, ...]) -> str | None:
    """The first "module" or "module:attribute" that cannot be imported, as a short reason."""
    for requirement in requirements:
        module_name, _, attribute = requirement.partition(":")
        try:
            module = importlib.import_module(module_name)
        except Exception as error:  # a broken install (not only a missing one) makes the framework unusable
            return f"cannot import {module_name}: {type(error).__name__}"
        if attribute and not hasattr(module, attribute):
            return f"{module_name} has no {attribute}: version too old"
    return None


_PACKAGE = __name__

OPENAI_AGENTS = FrameworkAdapter(
    name="openai-agents",
    distribution="openai-agents",
    required=("agents:OpenAIChatCompletionsModel", "agents:FunctionTool"),
    driver_module=f"{_PACKAGE}.openai_agents_driver",
)
SMOLAGENTS = FrameworkAdapter(
    name="smolagents",
    distribution="smolagents",
    required=("smolagents:ToolCallingAgent", "smolagents:OpenAIServerModel"),
    driver_module=f"{_PACKAGE}.smolagents_driver",
)
LANGGRAPH = FrameworkAdapter(
    name="langgraph",
    distribution="langgraph",
    required=("langgraph.prebuilt:create_react_agent", "langchain_openai:ChatOpenAI", "langsmith:tracing_context"),
    driver_module=f"{_PACKAGE}.langgraph_driver",
)
PYDANTIC_AI = FrameworkAdapter(
    name="pydantic-ai",
    distribution="pydantic-ai-slim",
    required=("pydantic_ai.models.openai:OpenAIChatModel", "pydantic_ai.providers.openai:OpenAIProvider"),
    driver_module=f"{_PACKAGE}.pydantic_ai_driver",
)

ADAPTERS: tuple[FrameworkAdapter, ...] = (OPENAI_AGENTS, SMOLAGENTS, LANGGRAPH, PYDANTIC_AI)


def adapter_by_name(name: str) -> FrameworkAdapter:
    for adapter in ADAPTERS:
        if adapter.name == name:
            return adapter
    raise BenchInputError(f"unknown agent framework {name!r}: use one of {', '.join(a.name for a in ADAPTERS)}")
