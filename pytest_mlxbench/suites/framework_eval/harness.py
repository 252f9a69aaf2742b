"""One framework-eval case around the runner: which runner, whether the harness (fixture data,
server, baseline loop) held up, and masking the API key out of what is recorded."""

from __future__ import annotations

import importlib.metadata
import json
from collections.abc import Callable

import pytest

from pytest_mlxbench.suites.framework_eval.baseline import RUNNER_NAME as BASELINE
from pytest_mlxbench.suites.framework_eval.baseline import run_baseline
from pytest_mlxbench.suites.framework_eval.fixture_data import (
    BALANCES_FILE,
    CUSTOMERS_FILE,
    ORDERS_FILE,
    FixtureData,
)
from pytest_mlxbench.suites.framework_eval.frameworks import ADAPTERS, adapter_by_name
from pytest_mlxbench.suites.framework_eval.tasks import TASK_IDS
from pytest_mlxbench.suites.framework_eval.transcript import Transcript

RUNNERS = (BASELINE, *(adapter.name for adapter in ADAPTERS))
CASES = [(runner, task_id) for runner in RUNNERS for task_id in TASK_IDS]
FIXTURE_FILES = (ORDERS_FILE, CUSTOMERS_FILE, BALANCES_FILE)
MASK = "***"

Runner = Callable[..., Transcript]


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


def harness_problem(runner: str, transcript: Transcript, fixture: FixtureData, endpoint, client) -> str | None:
    """Why this run measured our harness rather than the model and framework, or None.

    Checked after every run, whatever its verdict: a framework may turn a dead server or a
    failing tool into a plain miss."""
    missing = missing_fixture_files(fixture)
    if missing:
        return f"fixture data missing after the run: {missing}"
    server_problem = server_not_working(endpoint, client)
    if server_problem:
        return f"the server does not answer chat requests: {server_problem}"
    if runner == BASELINE and transcript.error:
        return f"the baseline loop failed: {transcript.error}"
    return None


def server_not_working(endpoint, client) -> str | None:
    """Whether the server still answers a chat request (one token): the request every runner makes.
    Its failure is the one line of ``backends.chat`` (HTTP status and the start of the body)."""
    from pytest_mlxbench.backends.chat import RequestFailed, complete
    from pytest_mlxbench.backends.server import ServerError

    try:
        endpoint.check_alive()
    except ServerError as error:
        return str(error)  # carries the tail of the managed server's log
    try:
        complete(client, endpoint, {"model": endpoint.model, "max_tokens": 1,
                                    "messages": [{"role": "user", "content": "Reply with OK."}]})
    except RequestFailed as error:
        return str(error)
    return None


def masked(sample: dict, api_key: str) -> dict:
    """The sample with every occurrence of the API key replaced: model and framework texts are not
    ours to trust, so this does not rely on them leaving the key out."""
    text = json.dumps(sample)
    key_in_json = json.dumps(api_key)[1:-1]  # the key as it is spelled inside a JSON string
    if not api_key or key_in_json not in text:
        return sample
    return json.loads(text.replace(key_in_json, MASK))
