"""The agent building blocks end to end: fixture tools, the baseline loop and the framework
adapters against a real mlx_lm.server serving a tiny model overfit on the order-status task."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from support.agent_training import FRAMEWORKS_TRAINED, SEED, order_status_examples
from support.contract import skip_or_fail_in_ci
from support.overfit import train_tiny_model

from pytest_mlxbench.backends.endpoint import Endpoint
from pytest_mlxbench.backends.server import SERVED_MODEL, ManagedServer, free_port
from pytest_mlxbench.errors import BenchInputError
from pytest_mlxbench.suites.framework_eval.agent_settings import AgentSettings
from pytest_mlxbench.suites.framework_eval.baseline import run_baseline
from pytest_mlxbench.suites.framework_eval.fixture_data import make_fixture_data
from pytest_mlxbench.suites.framework_eval.frameworks import (
    ADAPTERS,
    INSTALL_COMMAND,
    FrameworkAdapter,
    adapter_by_name,
)
from pytest_mlxbench.suites.framework_eval.frameworks.async_bridge import run_coroutine
from pytest_mlxbench.suites.framework_eval.scoring import score
from pytest_mlxbench.suites.framework_eval.tasks import (
    ORDER_STATUS,
    build_tasks,
    task_by_id,
)
from pytest_mlxbench.suites.framework_eval.tools import TOOL_SPECS, Toolset

# ---------------------------------------------------------------- fixture data and tools


def test_fixture_facts_come_from_the_seed(tmp_path):
    first = make_fixture_data(_mkdir(tmp_path / "a"), seed=1)
    same = make_fixture_data(_mkdir(tmp_path / "b"), seed=1)
    other = make_fixture_data(_mkdir(tmp_path / "c"), seed=2)
    assert (first.order_status, first.customer_id, first.customer_balance) == (
        same.order_status,
        same.customer_id,
        same.customer_balance,
    )
    assert first.order_status != other.order_status
    assert first.customer_balance != other.customer_balance


def test_fixture_writes_only_its_three_files(tmp_path):
    make_fixture_data(tmp_path, seed=3)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["balances.json", "customers.json", "orders.json"]


def test_fixture_needs_an_existing_directory(tmp_path):
    with pytest.raises(BenchInputError, match="does not exist"):
        make_fixture_data(tmp_path / "missing", seed=3)


def test_tools_reveal_the_hidden_facts_and_log_every_call(tmp_path):
    fixture = make_fixture_data(tmp_path, seed=5)
    toolset = Toolset(fixture.directory, tuple(TOOL_SPECS))
    status = json.loads(toolset.call_json("get_order_status", json.dumps({"order_id": fixture.order_id})))
    customer = json.loads(toolset.call("find_customer", {"name": fixture.customer_name.upper()}))
    balance = json.loads(toolset.call("get_balance", {"customer_id": customer["customer_id"]}))
    assert status["status"] == fixture.order_status
    assert customer["customer_id"] == fixture.customer_id
    assert balance["balance"] == fixture.customer_balance
    assert [record.name for record in toolset.log.records()] == ["get_order_status", "find_customer", "get_balance"]


@pytest.mark.parametrize(
    ("name", "raw_arguments", "error_part"),
    [
        ("get_order_status", '{"order_id": "ORD-00000"}', "no order with id"),
        ("get_order_status", '{"order": "ORD-1"}', "invalid arguments"),
        ("get_order_status", "not json", "invalid arguments"),
        ("get_balance", '{"customer_id": 7}', "invalid arguments"),
        ("delete_everything", "{}", "unknown tool"),
    ],
)
def test_tools_answer_bad_calls_with_an_error_result(tmp_path, name, raw_arguments, error_part):
    fixture = make_fixture_data(tmp_path, seed=5)
    toolset = Toolset(fixture.directory, tuple(TOOL_SPECS))
    result = json.loads(toolset.call_json(name, raw_arguments))
    assert error_part in result["error"]
    assert toolset.log.records()[0].name == name


def test_tool_schemas_are_openai_function_tools():
    for spec in TOOL_SPECS.values():
        schema = spec.openai_schema()
        assert schema["type"] == "function"
        assert schema["function"]["parameters"]["required"] == list(schema["function"]["parameters"]["properties"])


def test_unknown_task_id_is_bad_input(tmp_path):
    with pytest.raises(BenchInputError, match="unknown agent task"):
        task_by_id(make_fixture_data(tmp_path, seed=1), "nope")


def test_endpoint_rejects_a_non_http_url_and_hides_its_key():
    with pytest.raises(BenchInputError, match="not an http"):
        AgentSettings(Endpoint(base_url="127.0.0.1:8080"))
    endpoint = AgentSettings(Endpoint(base_url="http://127.0.0.1:1/v1", api_key="sk-secret-123"))
    assert "sk-secret-123" not in repr(endpoint)
    assert "sk-secret-123" not in endpoint.error_text(RuntimeError("bad key sk-secret-123"))


# ---------------------------------------------------------------- adapter availability


def test_a_missing_framework_is_unavailable_with_the_install_command():
    missing = FrameworkAdapter("ghost", "ghost-agents-dist", ("ghost_agents_module",), "ghost.driver")
    usable, reason = missing.available()
    assert not usable
    assert INSTALL_COMMAND in reason
    assert missing.version() == "not installed"


def test_running_a_missing_framework_is_bad_input(tmp_path):
    missing = FrameworkAdapter("ghost", "ghost-agents-dist", ("ghost_agents_module",), "ghost.driver")
    fixture = make_fixture_data(tmp_path, seed=1)
    with pytest.raises(BenchInputError, match="pytest-mlxbench\\[frameworks\\]"):
        missing.run(build_tasks(fixture)[0], AgentSettings(Endpoint(base_url="http://127.0.0.1:1/v1")), fixture)


def test_async_frameworks_also_run_from_inside_an_event_loop():
    async def answer() -> int:
        await asyncio.sleep(0)
        return 42

    async def caller_with_a_running_loop() -> int:
        return run_coroutine(answer)

    assert run_coroutine(answer) == 42
    assert asyncio.run(caller_with_a_running_loop()) == 42


def test_unknown_framework_name_is_bad_input():
    with pytest.raises(BenchInputError, match="unknown agent framework"):
        adapter_by_name("autogpt")


def test_smolagents_dispatches_tool_calls_to_our_logged_tools(tmp_path):
    # The overfit model never calls a tool inside smolagents' own long prompt, so check the
    # wiring through smolagents' real dispatch instead.
    if not adapter_by_name("smolagents").available()[0]:
        skip_or_fail_in_ci(adapter_by_name("smolagents").available()[1])
    from pytest_mlxbench.suites.framework_eval.frameworks.smolagents_driver import (
        build_agent,
    )

    fixture = make_fixture_data(tmp_path, seed=9)
    task = task_by_id(fixture, ORDER_STATUS)
    toolset = Toolset(fixture.directory, task.tool_names)
    agent = build_agent(task, AgentSettings(Endpoint(base_url="http://127.0.0.1:1/v1")), toolset, max_steps=2)
    result = agent.execute_tool_call("get_order_status", {"order_id": fixture.order_id})
    assert fixture.order_status in result
    assert [(call.name, call.arguments) for call in toolset.log.records()] == [
        ("get_order_status", {"order_id": fixture.order_id})
    ]


# ---------------------------------------------------------------- runners without a server


@pytest.mark.parametrize("runner", ["baseline", *[adapter.name for adapter in ADAPTERS]])
def test_unreachable_server_gives_an_error_verdict(tmp_path, runner):
    fixture = make_fixture_data(tmp_path, seed=1)
    task = task_by_id(fixture, ORDER_STATUS)
    endpoint = AgentSettings(Endpoint(base_url=f"http://127.0.0.1:{free_port()}/v1", api_key="sk-never-logged"), timeout_s=5)
    transcript = _run(runner, task, endpoint, fixture)
    assert transcript.error
    assert "sk-never-logged" not in transcript.error
    assert score(task, transcript).score == 0.0
    assert transcript.tool_calls == []


# ---------------------------------------------------------------- against a real server


@pytest.fixture(scope="module")
def fixture_data(tmp_path_factory):
    return make_fixture_data(tmp_path_factory.mktemp("agent-fixture"), seed=SEED)


@pytest.fixture(scope="module")
def order_task(fixture_data):
    return task_by_id(fixture_data, ORDER_STATUS)


@pytest.fixture(scope="module")
def trained_model_dir(tmp_path_factory, fixture_data, order_task):
    return train_tiny_model(order_status_examples(order_task, fixture_data), tmp_path_factory.mktemp("agent-model"))


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory, trained_model_dir):
    hub_cache = tmp_path_factory.mktemp("hf-hub-cache")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("HF_HUB_OFFLINE", "1")
        env.setenv("HF_HUB_CACHE", str(hub_cache))
        server = ManagedServer(trained_model_dir, tmp_path_factory.mktemp("agent-server") / "server.log").start()
    try:
        yield AgentSettings(Endpoint(base_url=server.base_url, model=SERVED_MODEL), max_tokens=64)
    finally:
        server.stop()


def test_baseline_scores_full_marks_on_the_trained_task(endpoint, fixture_data, order_task):
    transcript = run_baseline(order_task, endpoint, fixture_data)
    assert score(order_task, transcript).score == 1.0, transcript
    assert [(call.name, call.arguments) for call in transcript.tool_calls] == [
        ("get_order_status", {"order_id": fixture_data.order_id})
    ]
    assert fixture_data.order_status in transcript.tool_calls[0].result
    assert transcript.steps == 2
    assert transcript.prompt_tokens > 0 and transcript.completion_tokens > 0
    assert [message["role"] for message in transcript.messages] == ["system", "user", "assistant", "tool", "assistant"]


def test_baseline_stops_at_the_step_limit(endpoint, fixture_data, order_task):
    transcript = run_baseline(order_task, endpoint, fixture_data, max_steps=1)
    assert transcript.hit_step_limit
    assert [call.name for call in transcript.tool_calls] == ["get_order_status"]
    assert score(order_task, transcript).score == 0.0


@pytest.mark.parametrize("adapter", ADAPTERS, ids=[adapter.name for adapter in ADAPTERS])
def test_framework_runs_the_trained_task_to_a_verdict(adapter, endpoint, fixture_data, order_task):
    usable, reason = adapter.available()
    if not usable:
        skip_or_fail_in_ci(reason)
    transcript = adapter.run(order_task, endpoint, fixture_data)
    verdict = score(order_task, transcript)
    assert verdict.score in (0.0, 1.0)
    assert transcript.runner == adapter.name
    assert transcript.steps >= 1, transcript.error
    assert transcript.messages
    for call in transcript.tool_calls:
        assert call.result == Toolset(fixture_data.directory, order_task.tool_names).call(call.name, call.arguments)
    if adapter.name in FRAMEWORKS_TRAINED:
        assert verdict.score == 1.0, f"{verdict.reason}; did {adapter.name} change the request it sends?"
        assert [(call.name, call.arguments) for call in transcript.tool_calls] == [
            ("get_order_status", {"order_id": fixture_data.order_id})
        ]
        assert transcript.steps == 2
        assert transcript.prompt_tokens > 0 and transcript.completion_tokens > 0


@pytest.mark.parametrize("adapter", ADAPTERS, ids=[adapter.name for adapter in ADAPTERS])
def test_framework_stops_at_the_step_limit(adapter, endpoint, fixture_data, order_task):
    usable, reason = adapter.available()
    if not usable:
        skip_or_fail_in_ci(reason)
    transcript = adapter.run(order_task, endpoint, fixture_data, max_steps=1)
    assert transcript.hit_step_limit, transcript
    assert transcript.error is None
    assert transcript.steps >= 1
    assert score(order_task, transcript).score == 0.0


# ---------------------------------------------------------------- helpers


def _run(runner, task, endpoint, fixture):
    if runner == "baseline":
        return run_baseline(task, endpoint, fixture)
    adapter = adapter_by_name(runner)
    usable, reason = adapter.available()
    if not usable:
        skip_or_fail_in_ci(reason)
    return adapter.run(task, endpoint, fixture)


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path
