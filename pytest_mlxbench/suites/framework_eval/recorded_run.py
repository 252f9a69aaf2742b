"""The shell every runner shares: bind the tools, time the run, turn failures into error text.

A runner's ``drive`` function talks to the model and fills the transcript's
answer, messages, steps, tokens and step-limit flag; the tool calls come from
the toolset's own log, not from the runner.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from pytest_mlxbench.suites.framework_eval.agent_settings import AgentSettings
from pytest_mlxbench.suites.framework_eval.fixture_data import FixtureData
from pytest_mlxbench.suites.framework_eval.tasks import AgentTask
from pytest_mlxbench.suites.framework_eval.tools import Toolset
from pytest_mlxbench.suites.framework_eval.transcript import Transcript

DEFAULT_MAX_STEPS = 6  # model requests per run; every runner gets the same budget

Drive = Callable[[AgentTask, AgentSettings, Toolset, Transcript, int], None]


def run_recorded(
    runner_name: str, drive: Drive, task: AgentTask, endpoint: AgentSettings, fixture: FixtureData, max_steps: int
) -> Transcript:
    toolset = Toolset(fixture.directory, task.tool_names)
    transcript = Transcript(runner=runner_name, task_id=task.task_id)
    started = time.perf_counter()
    try:
        drive(task, endpoint, toolset, transcript, max_steps)
    except Exception as error:  # a failing server, client or framework is a verdict, not a crash
        transcript.error = endpoint.error_text(error)
    transcript.tool_calls = toolset.log.records()
    transcript.latency_s = time.perf_counter() - started
    return transcript
