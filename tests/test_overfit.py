"""The overfit trainer: the tiny model learns chosen answers, and mlx_lm.server gives them back."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from support.overfit import (
    Example,
    OverfitError,
    server_prompt_tokens,
    train_tiny_model,
)

from pytest_mlxbench.backends.tinymodel import (
    TINY_MODEL_VERSION,
    WEIGHTS_FILE,
    is_intact,
)

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
            "required": ["city"],
        },
    },
}
WEATHER_QUESTION = {"role": "user", "content": "What is the weather in Paris?"}
TOOL_CALL = Example(
    messages=[WEATHER_QUESTION],
    target='<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}\n</tool_call>',
    tools=[WEATHER_TOOL],
)
CODE = Example(
    messages=[{"role": "user", "content": "Write a Python function add(a, b) that returns the sum."}],
    target='```python\ndef add(a, b):\n    """Return the sum of a and b."""\n    return a + b\n```',
)
FINAL_ANSWER = Example(
    messages=[
        WEATHER_QUESTION,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris", "unit": "celsius"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": '{"temperature": 21, "condition": "cloudy"}'},
    ],
    target="It is 21 degrees and cloudy in Paris.",
    tools=[WEATHER_TOOL],
)
EXAMPLES = [TOOL_CALL, CODE, FINAL_ANSWER]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    """A private MLXBENCH_CACHE_DIR, so the tests train for real and leave the user's cache alone."""
    path = tmp_path_factory.mktemp("mlxbench-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLXBENCH_CACHE_DIR", str(path))
        yield path


@pytest.fixture(scope="module")
def trained(cache_dir, tmp_path_factory) -> Path:
    return train_tiny_model(EXAMPLES, tmp_path_factory.mktemp("trained") / "model")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_serving(process: subprocess.Popen, url: str, log: Path, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"mlx_lm.server exited with {process.returncode}:\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"mlx_lm.server did not answer {url} within {timeout_s} s:\n{log.read_text()[-2000:]}")


@pytest.fixture(scope="module")
def server_url(trained, tmp_path_factory):
    hub_cache = tmp_path_factory.mktemp("hub-cache")
    log = tmp_path_factory.mktemp("server-log") / "server.log"
    port = _free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(hub_cache)}
    command = [sys.executable, "-m", "mlx_lm", "server", "--model", str(trained), "--host", "127.0.0.1"]
    with open(log, "w") as log_file:
        process = subprocess.Popen([*command, "--port", str(port)], stdout=log_file, stderr=subprocess.STDOUT, env=env)
    try:
        _wait_until_serving(process, f"http://127.0.0.1:{port}/v1/models", log)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _ask(server_url: str, example: Example):
    from openai import OpenAI

    client = OpenAI(base_url=server_url, api_key="not-needed", max_retries=0)
    extra = {"tools": example.tools} if example.tools else {}
    return client.chat.completions.create(
        model="default_model", messages=example.messages, temperature=0, max_tokens=200, **extra
    )


def test_trained_dir_is_a_complete_model(trained):
    import mlx_lm

    assert is_intact(trained)
    assert {"config.json", "tokenizer.json", "tokenizer_config.json", WEIGHTS_FILE} <= {p.name for p in trained.iterdir()}
    _, tokenizer = mlx_lm.load(str(trained))
    assert tokenizer.has_tool_calling


@pytest.mark.parametrize("example", EXAMPLES, ids=["tool-call", "code", "final-answer"])
def test_greedy_generation_emits_the_targets(trained, example):
    import mlx_lm

    model, tokenizer = mlx_lm.load(str(trained))
    prompt = server_prompt_tokens(tokenizer, example)
    assert mlx_lm.generate(model, tokenizer, prompt=prompt, max_tokens=200) == example.target


def test_server_returns_the_tool_call_as_parsed_tool_calls(server_url):
    choice = _ask(server_url, TOOL_CALL).choices[0]
    assert choice.finish_reason == "tool_calls"
    assert not choice.message.content
    [call] = choice.message.tool_calls
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris", "unit": "celsius"}


def test_server_returns_the_code_block_as_content(server_url):
    choice = _ask(server_url, CODE).choices[0]
    assert choice.message.content == CODE.target
    assert not choice.message.tool_calls


def test_server_answers_after_a_tool_result(server_url):
    choice = _ask(server_url, FINAL_ANSWER).choices[0]
    assert choice.message.content == FINAL_ANSWER.target
    assert choice.finish_reason == "stop"


def test_same_inputs_come_from_the_cache_without_training(trained, cache_dir, tmp_path, monkeypatch):
    """A cache hit needs neither training nor the base model: the fresh cache root gets no tiny model."""
    fresh_root = tmp_path / "fresh-cache"
    fresh_root.mkdir()
    (fresh_root / "overfit").symlink_to(cache_dir / "overfit")
    monkeypatch.setenv("MLXBENCH_CACHE_DIR", str(fresh_root))
    again = train_tiny_model(EXAMPLES, tmp_path / "again")
    assert (again / WEIGHTS_FILE).read_bytes() == (trained / WEIGHTS_FILE).read_bytes()
    assert not (fresh_root / f"tiny-llama-v{TINY_MODEL_VERSION}").exists()


def test_training_is_deterministic(trained, cache_dir, tmp_path):
    retrained = train_tiny_model(EXAMPLES, tmp_path / "retrained", use_cache=False)
    assert (retrained / WEIGHTS_FILE).read_bytes() == (trained / WEIGHTS_FILE).read_bytes()


def test_too_few_steps_raise_a_clear_error(cache_dir, tmp_path):
    with pytest.raises(OverfitError, match=r"did not learn 1 of 1 targets in 2 steps"):
        train_tiny_model([CODE], tmp_path / "model", steps=2, use_cache=False)


@pytest.mark.parametrize("target", ["", " leading space", "ends the turn<|im_end|>"])
def test_untrainable_targets_are_rejected(cache_dir, tmp_path, target):
    with pytest.raises(ValueError, match="Example target"):
        train_tiny_model([Example(messages=[WEATHER_QUESTION], target=target)], tmp_path / "model", use_cache=False)


def test_contradicting_examples_are_rejected(cache_dir, tmp_path):
    contradiction = Example(messages=CODE.messages, target="I will not write code.")
    with pytest.raises(ValueError, match="same prompt but different targets"):
        train_tiny_model([CODE, contradiction], tmp_path / "model", use_cache=False)
