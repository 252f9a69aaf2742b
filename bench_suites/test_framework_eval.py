"""Framework-eval suite: the same agent tasks through a plain tool loop and real agent frameworks.

One test per (runner, task), with ids like ``baseline-order-status`` or
``langgraph-customer-balance`` (so ``-k langgraph`` picks a framework). The runners:

* ``baseline``: our plain tool loop on the ``openai`` client (always there; its version tag is the
  openai client's version);
* ``openai-agents``, ``smolagents``, ``langgraph``, ``pydantic-ai``: the real frameworks, from the
  optional extra ``pip install 'pytest-mlxbench[frameworks]'``. A framework that is not installed
  (or does not import) is skipped with that reason and the install command.

The tasks (``pytest_mlxbench.agents.tasks``) ask for facts that only the tools can supply: the
fixture data is written from ``--seed`` into a temporary directory this module owns, and the tools
read only that directory. Every runner gets the same tools, the same instructions and prompt, the
same endpoint and sampling settings (``--temperature``, ``--max-tokens``) and the same step limit
(``MAX_STEPS`` model requests).

Outcomes. A task scores 1.0 only when the expected tools were called and the final answer holds the
fact they returned (``pytest_mlxbench.agents.scoring``); that passes. A 0 is a measurement of the
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
tokens, latency); ``pytest_mlxbench.agents.summary.bench_summarize`` turns them into the rows. The
API key is never written: the endpoint keeps it out of error texts, and any occurrence left in a
sample is masked before it is recorded.
"""

from __future__ import annotations

import importlib.metadata
import json
from collections.abc import Callable
from dataclasses import replace

import pytest

import pytest_mlxbench
from pytest_mlxbench.agents.baseline import RUNNER_NAME as BASELINE
from pytest_mlxbench.agents.baseline import run_baseline
from pytest_mlxbench.agents.endpoint import AgentEndpoint
from pytest_mlxbench.agents.fixture_data import (
    BALANCES_FILE,
    CUSTOMERS_FILE,
    ORDERS_FILE,
    FixtureData,
    make_fixture_data,
)
from pytest_mlxbench.agents.frameworks import ADAPTERS, adapter_by_name
from pytest_mlxbench.agents.recorded_run import DEFAULT_MAX_STEPS
from pytest_mlxbench.agents.scoring import score
from pytest_mlxbench.agents.summary import bench_summarize  # noqa: F401  (the plugin calls it)
from pytest_mlxbench.agents.tasks import TASK_IDS, AgentTask, task_by_id
from pytest_mlxbench.agents.transcript import Transcript

pytestmark = pytest_mlxbench.suite("framework-eval")

RUNNERS = (BASELINE, *(adapter.name for adapter in ADAPTERS))
MAX_STEPS = DEFAULT_MAX_STEPS
REQUEST_TIMEOUT_S = 600.0  # as the plugin's own clients: a large model may take minutes per reply
FIXTURE_FILES = (ORDERS_FILE, CUSTOMERS_FILE, BALANCES_FILE)
CASES = [(runner, task_id) for runner in RUNNERS for task_id in TASK_IDS]
MASK = "***"
ERROR_CHARS = 300

Runner = Callable[..., Transcript]


@pytest.fixture(scope="module")
def agent_fixture(tmp_path_factory, mlxbench_settings) -> FixtureData:
    """The seeded fixture data, in a directory of its own that only the tools read."""
    return make_fixture_data(tmp_path_factory.mktemp("framework-eval-data"), mlxbench_settings.seed)


@pytest.mark.parametrize(("runner", "task_id"), CASES, ids=[f"{runner}-{task_id}" for runner, task_id in CASES])
def test_agent_task(runner, task_id, agent_fixture, mlx_endpoint, openai_client, mlxbench_settings,
                    bench_gen_kwargs, record_sample):
    run, version = pick_runner(runner)
    task = task_by_id(agent_fixture, task_id)
    endpoint = AgentEndpoint.from_endpoint(mlx_endpoint, temperature=mlxbench_settings.temperature,
                                           max_tokens=mlxbench_settings.max_tokens, timeout_s=REQUEST_TIMEOUT_S)
    missing = missing_fixture_files(agent_fixture)
    if missing:
        pytest.fail(f"harness error: fixture data missing before the run: {missing}", pytrace=False)

    transcript = run(task, endpoint, agent_fixture, max_steps=MAX_STEPS)
    problem = harness_problem(runner, transcript, agent_fixture, mlx_endpoint, openai_client)
    verdict = score(task, transcript)
    kind = None if problem or verdict.score == 1.0 else miss_kind(task, transcript)
    sample = masked({
        "runner": runner, "framework_version": version, "task_id": task.task_id, "seed": agent_fixture.seed,
        "max_steps": MAX_STEPS, "temperature": endpoint.temperature, "max_tokens": endpoint.max_tokens,
        "score": None if problem else verdict.score, "kind": kind, "reason": verdict.reason,
        "harness_error": problem, "transcript": transcript.to_dict(),
    }, mlx_endpoint.api_key)
    record_sample(sample)
    if problem:
        pytest.fail(f"harness error, not a {runner} miss: {sample['harness_error']}", pytrace=False)
    if kind:
        pytest_mlxbench.wrong_answer(kind, printable(sample["reason"]))


def pick_runner(name: str) -> tuple[Runner, str]:
    """The run function and its version; skips a framework that is not usable, with the reason."""
    if name == BASELINE:
        return run_baseline, importlib.metadata.version("openai")
    adapter = adapter_by_name(name)
    usable, reason = adapter.available()
    if not usable:
        pytest.skip(reason)
    return adapter.run, adapter.version()


def missing_fixture_files(fixture: FixtureData) -> str:
    """The fixture files that are gone, comma-separated ("" when all are there)."""
    return ", ".join(str(fixture.directory / name) for name in FIXTURE_FILES
                     if not (fixture.directory / name).is_file())


def harness_problem(runner: str, transcript: Transcript, fixture: FixtureData, mlx_endpoint, client) -> str | None:
    """Why this run measured our harness rather than the model and framework, or None.

    Checked after every run, whatever its verdict: a framework may turn a dead server or a
    failing tool into a plain miss."""
    missing = missing_fixture_files(fixture)
    if missing:
        return f"fixture data missing after the run: {missing}"
    server_problem = server_not_working(mlx_endpoint, client)
    if server_problem:
        return f"the server does not answer chat requests: {server_problem}"
    if runner == BASELINE and transcript.error:
        return f"the baseline loop failed: {transcript.error}"
    return None


def server_not_working(mlx_endpoint, client) -> str | None:
    """Whether the server still answers a chat request (one token): the request every runner makes."""
    from openai import OpenAIError

    from pytest_mlxbench.server import ServerError

    try:
        mlx_endpoint.check_alive()
    except ServerError as error:
        return str(error)  # carries the tail of the managed server's log
    try:
        client.chat.completions.create(model=mlx_endpoint.model, max_tokens=1,
                                       messages=[{"role": "user", "content": "Reply with OK."}])
    except OpenAIError as error:
        return " ".join(f"{type(error).__name__}: {error}".split())[:ERROR_CHARS]
    return None


def miss_kind(task: AgentTask, transcript: Transcript) -> str:
    """The failure kind of a run that scored 0, checked in the scorer's order."""
    if transcript.error:
        return "framework_error"
    if transcript.hit_step_limit:
        return "step_limit"
    if not transcript.final_answer.strip():
        return "empty_answer"
    if not calls_pass(task, transcript):
        return "missing_tool_call" if task.needs_tools else "unneeded_tool_call"
    return "wrong_answer"


def calls_pass(task: AgentTask, transcript: Transcript) -> bool:
    # Scored again with an answer that holds every expected fact: only the tool-call rule can fail.
    with_facts = replace(transcript, final_answer=" ".join(task.expected_facts))
    return score(task, with_facts).score == 1.0


def masked(sample: dict, api_key: str) -> dict:
    """The sample with every occurrence of the API key replaced: model and framework texts are not
    ours to trust, so this does not rely on them leaving the key out."""
    text = json.dumps(sample)
    key_in_json = json.dumps(api_key)[1:-1]  # the key as it is spelled inside a JSON string
    if not api_key or key_in_json not in text:
        return sample
    return json.loads(text.replace(key_in_json, MASK))


def printable(text: str) -> str:
    """Model- and framework-made text for the terminal: control characters (escape sequences) escaped."""
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)
