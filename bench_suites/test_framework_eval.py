"""Framework-eval suite: the same agent tasks through a plain tool loop and real agent frameworks.

One test per (runner, task), with ids like ``baseline-order-status`` or
``langgraph-customer-balance`` (so ``-k langgraph`` picks a framework). The runners:

* ``baseline``: our plain tool loop on the ``openai`` client (always there; its version tag is the
  openai client's version);
* ``openai-agents``, ``smolagents``, ``langgraph``, ``pydantic-ai``: the real frameworks, from the
  optional extra ``pip install 'pytest-mlxbench[frameworks]'``. A framework that is not installed
  (or does not import) is skipped with that reason and the install command.

The tasks (``pytest_mlxbench.suites.framework_eval.tasks``) ask for facts that only the tools can supply: the
fixture data is written from ``--seed`` into a temporary directory this module owns, and the tools
read only that directory. Every runner gets the same tools, the same instructions and prompt, the
same endpoint and sampling settings (``--temperature``, ``--max-tokens``) and the same step limit
(``MAX_STEPS`` model requests).

Outcomes. A task scores 1.0 only when the expected tools were called and the final answer holds the
fact they returned (``pytest_mlxbench.suites.framework_eval.scoring``); that passes. A 0 is a measurement of the
model and the framework: the sample is recorded, then the test ends as xfail with its kind:

* ``framework_error``: the framework raised inside its own code while the server kept working
  (checked after the run): that is how the framework behaves with this server and model;
* ``step_limit``, ``empty_answer``, ``missing_tool_call`` (an expected call absent, out of order or
  with other key arguments), ``unneeded_tool_call`` (a call on the no-tool task), ``wrong_answer``.

A failure of our own harness is a real test failure, never a score: the fixture data missing, the
server dead or not answering a one-token chat request after the run (checked after every run, as
a framework may turn a server failure into a plain miss), or the baseline loop raising (it is our
code on the plain client, so an exception there is our bug or the server's). Its sample is still logged,
with ``score`` None and the problem in ``harness_error``, and no row counts it.

Every sample holds the full transcript (messages, tool calls with arguments and results, steps,
tokens, latency); ``pytest_mlxbench.suites.framework_eval.summary.bench_summarize`` turns them into the rows. The
API key is never written: the endpoint keeps it out of error texts, and any occurrence left in a
sample is masked before it is recorded.
"""

from __future__ import annotations

import pytest

import pytest_mlxbench
from pytest_mlxbench.backends.clients import REQUEST_TIMEOUT_S
from pytest_mlxbench.suites.framework_eval.agent_settings import AgentSettings
from pytest_mlxbench.suites.framework_eval.fixture_data import (
    FixtureData,
    make_fixture_data,
)
from pytest_mlxbench.suites.framework_eval.harness import (
    CASES,
    harness_problem,
    masked,
    missing_fixture_files,
    pick_runner,
)
from pytest_mlxbench.suites.framework_eval.recorded_run import DEFAULT_MAX_STEPS
from pytest_mlxbench.suites.framework_eval.scoring import score
from pytest_mlxbench.suites.framework_eval.summary import bench_summarize  # noqa: F401  (the plugin calls it)
from pytest_mlxbench.suites.framework_eval.tasks import task_by_id
from pytest_mlxbench.suites.rows import printable

pytestmark = pytest_mlxbench.suite("framework-eval")

MAX_STEPS = DEFAULT_MAX_STEPS


@pytest.fixture(scope="module")
def agent_fixture(tmp_path_factory, mlxbench_settings) -> FixtureData:
    """The seeded fixture data, in a directory of its own that only the tools read."""
    return make_fixture_data(tmp_path_factory.mktemp("framework-eval-data"), mlxbench_settings.seed)


@pytest.mark.parametrize(("runner", "task_id"), CASES, ids=[f"{runner}-{task_id}" for runner, task_id in CASES])
def test_agent_task(runner, task_id, agent_fixture, mlx_endpoint, openai_client, mlxbench_settings,
                    bench_gen_kwargs, record_sample):
    run, version = pick_runner(runner)
    task = task_by_id(agent_fixture, task_id)
    agent = AgentSettings(mlx_endpoint, temperature=mlxbench_settings.temperature,
                          max_tokens=mlxbench_settings.max_tokens, timeout_s=REQUEST_TIMEOUT_S)
    missing = missing_fixture_files(agent_fixture)
    if missing:
        pytest.fail(f"harness error: fixture data missing before the run: {missing}", pytrace=False)

    transcript = run(task, agent, agent_fixture, max_steps=MAX_STEPS)
    problem = harness_problem(runner, transcript, agent_fixture, mlx_endpoint, openai_client)
    verdict = score(task, transcript)
    kind = None if problem else verdict.kind
    sample = masked({
        "runner": runner, "framework_version": version, "task_id": task.task_id, "seed": agent_fixture.seed,
        "max_steps": MAX_STEPS, "temperature": agent.temperature, "max_tokens": agent.max_tokens,
        "score": None if problem else verdict.score, "kind": kind, "reason": verdict.reason,
        "harness_error": problem, "transcript": transcript.to_dict(),
    }, mlx_endpoint.api_key)
    record_sample(sample)
    if problem:
        pytest.fail(f"harness error, not a {runner} miss: {sample['harness_error']}", pytrace=False)
    if kind:
        pytest_mlxbench.wrong_answer(kind, printable(sample["reason"]))
