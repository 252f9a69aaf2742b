"""The built-in tiny model: builds offline, loads with mlx-lm, is deterministic and self-healing."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pytest_mlxbench.backends.tinymodel import (
    MANIFEST_FILE,
    TINY_MODEL_VERSION,
    WEIGHTS_FILE,
    cache_root,
    ensure_tiny_model,
    is_intact,
)

MODEL_DIR_NAME = f"tiny-llama-v{TINY_MODEL_VERSION}"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    return ensure_tiny_model(tmp_path_factory.mktemp("tiny-cache"))


@pytest.fixture(scope="module")
def loaded(built):
    import mlx_lm

    return mlx_lm.load(str(built))


def _file_bytes(model_dir: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(model_dir.iterdir())}


def _build_in_subprocess(cache_dir: Path, start_signal: Path | None = None) -> subprocess.Popen:
    """A separate interpreter that builds the model in `cache_dir` (after `start_signal` appears, if given)."""
    script = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        signal = {str(start_signal) if start_signal else None!r}
        while signal and not Path(signal).exists():
            time.sleep(0.005)
        from pytest_mlxbench.backends.tinymodel import ensure_tiny_model
        print(ensure_tiny_model(Path({str(cache_dir)!r})))
        """
    )
    return subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_model_dir_has_the_files_mlx_lm_needs(built):
    assert built.name == MODEL_DIR_NAME
    config = json.loads((built / "config.json").read_text())
    assert config["model_type"] == "llama"
    assert config["hidden_size"] == 64 and config["num_hidden_layers"] == 2
    assert config["max_position_embeddings"] >= 4096
    assert "quantization" not in config
    tokenizer_config = json.loads((built / "tokenizer_config.json").read_text())
    assert tokenizer_config["eos_token"] == "<|im_end|>"
    assert "<tool_call>" in tokenizer_config["chat_template"]
    assert {WEIGHTS_FILE, "tokenizer.json", MANIFEST_FILE} <= {p.name for p in built.iterdir()}
    assert is_intact(built)


def test_loads_and_generates_tokens(loaded):
    import mlx.core as mx
    from mlx_lm.generate import generate_step

    model, tokenizer = loaded
    prompt = mx.array(tokenizer.encode("Hello, world!", add_special_tokens=False))
    tokens = [token for token, _ in generate_step(prompt, model, max_tokens=8)]
    assert len(tokens) == 8
    assert all(0 <= token < len(tokenizer.get_vocab()) for token in tokens)


def test_accepts_a_prompt_longer_than_2048_tokens(loaded):
    import mlx.core as mx

    model, _ = loaded
    logits = model(mx.arange(2100)[None] % 512)
    assert logits.shape == (1, 2100, 512)
    assert mx.isfinite(logits).all().item()


def test_two_builds_in_different_processes_are_byte_identical(built, tmp_path):
    process = _build_in_subprocess(tmp_path)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert _file_bytes(Path(out.strip())) == _file_bytes(built)


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda d: (d / WEIGHTS_FILE).unlink(), id="missing-weights"),
        pytest.param(lambda d: (d / WEIGHTS_FILE).write_bytes((d / WEIGHTS_FILE).read_bytes()[:1000]), id="truncated"),
        pytest.param(lambda d: (d / "tokenizer.json").write_text((d / "tokenizer.json").read_text() + " "), id="altered"),
        pytest.param(lambda d: (d / MANIFEST_FILE).unlink(), id="missing-manifest"),
    ],
)
def test_damaged_model_is_rebuilt(built, tmp_path, damage):
    model_dir = ensure_tiny_model(tmp_path)
    damage(model_dir)
    assert not is_intact(model_dir)
    assert ensure_tiny_model(tmp_path) == model_dir
    assert _file_bytes(model_dir) == _file_bytes(built)
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == [MODEL_DIR_NAME]


def test_concurrent_builders_both_get_a_good_model(built, tmp_path):
    start_signal = tmp_path / "go"
    cache_dir = tmp_path / "cache"
    processes = [_build_in_subprocess(cache_dir, start_signal) for _ in range(2)]
    start_signal.touch()
    results = [process.communicate(timeout=120) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], [err for _, err in results]
    assert {out.strip() for out, _ in results} == {str(cache_dir / MODEL_DIR_NAME)}
    assert _file_bytes(cache_dir / MODEL_DIR_NAME) == _file_bytes(built)
    assert sorted(p.name for p in cache_dir.iterdir() if not p.name.endswith(".lock")) == [MODEL_DIR_NAME]


def test_default_cache_dir_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MLXBENCH_CACHE_DIR", str(tmp_path / "mlxbench"))
    assert cache_root() == tmp_path / "mlxbench"
    assert ensure_tiny_model() == tmp_path / "mlxbench" / MODEL_DIR_NAME
    monkeypatch.delenv("MLXBENCH_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    expected = Path.home() / "Library" / "Caches" if sys.platform == "darwin" else tmp_path / "xdg"
    assert cache_root() == expected / "pytest-mlxbench"


def _random_text(rng: random.Random) -> str:
    alphabet = [chr(c) for c in range(0, 0x250)] + list("→✓中文日本語한국어😀🚀\u200b\ufeff")
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 80)))


@pytest.mark.parametrize(
    "text",
    [
        'def f(x):\n\treturn {"a": [1, 2.5, None]}  # ok\n',
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Zürich"}}\n</tool_call>',
        "  leading and trailing spaces  \n\n\r\n",
        "emoji 😀🚀, CJK 中文, RTL שלום, combining e\u0301, NUL \x00 and BEL \x07",
        "<|im_start|>user\nhi<|im_end|>",
    ],
)
def test_tokenizer_round_trips_text(loaded, text):
    _, tokenizer = loaded
    assert tokenizer.decode(tokenizer.encode(text, add_special_tokens=False)) == text


def test_tokenizer_round_trips_random_unicode(loaded):
    _, tokenizer = loaded
    rng = random.Random(7)
    for _ in range(200):
        text = _random_text(rng)
        assert tokenizer.decode(tokenizer.encode(text, add_special_tokens=False)) == text


def test_special_tokens_are_single_tokens(loaded):
    _, tokenizer = loaded
    for token in ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<tool_call>", "</tool_call>"]:
        assert len(tokenizer.encode(token, add_special_tokens=False)) == 1, token
    assert tokenizer.eos_token == "<|im_end|>"
    assert tokenizer.eos_token_ids == {tokenizer.convert_tokens_to_ids("<|im_end|>")}


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def test_chat_template_renders_tools_tool_calls_and_tool_results(loaded):
    _, tokenizer = loaded
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {"id": "1", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
                {"id": "2", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'}},
            ],
        },
        {"role": "tool", "tool_call_id": "1", "content": "sunny"},
        {"role": "tool", "tool_call_id": "2", "content": "rain"},
    ]
    rendered = tokenizer.apply_chat_template(messages, tools=[WEATHER_TOOL], add_generation_prompt=True, tokenize=False)
    assert rendered == (
        "<|im_start|>system\nBe brief.\n\n# Tools\n\n"
        "You may call functions. Their signatures are in <tools></tools>:\n<tools>\n"
        + json.dumps(WEATHER_TOOL)
        + "\n</tools>\n\nTo call a function, reply with a JSON object in <tool_call></tool_call> tags:\n"
        '<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call><|im_end|>\n'
        "<|im_start|>user\nWeather in Paris and Rome?<|im_end|>\n"
        "<|im_start|>assistant\n"
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>\n'
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Rome"}}\n</tool_call><|im_end|>\n'
        "<|im_start|>user\n<tool_response>\nsunny\n</tool_response>\n<tool_response>\nrain\n</tool_response><|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_chat_template_without_tools_is_plain_chatml(loaded):
    _, tokenizer = loaded
    messages = [
        {"role": "system", "content": "S"},
        {"role": "user", "content": "Q"},
        {"role": "assistant", "content": "A"},
        {"role": "user", "content": "Q2"},
    ]
    assert tokenizer.apply_chat_template(messages, tokenize=False) == (
        "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nQ<|im_end|>\n"
        "<|im_start|>assistant\nA<|im_end|>\n<|im_start|>user\nQ2<|im_end|>\n"
    )


def test_mlx_lm_parses_tool_calls_of_the_template(loaded):
    _, tokenizer = loaded
    assert tokenizer.has_tool_calling
    assert (tokenizer.tool_call_start, tokenizer.tool_call_end) == ("<tool_call>", "</tool_call>")
    assert tokenizer.tool_parser('\n{"name": "f", "arguments": {"a": 1}}\n') == {"name": "f", "arguments": {"a": 1}}


def test_tool_call_tags_survive_skip_special_tokens(loaded):
    _, tokenizer = loaded
    ids = tokenizer.encode("<|im_start|><tool_call>x</tool_call><|im_end|>", add_special_tokens=False)
    assert tokenizer.decode(ids, skip_special_tokens=True) == "<tool_call>x</tool_call>"
