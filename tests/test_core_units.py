"""Pure parts of the core: CI trigger detection, model references, statistics, system detection."""

import json

import pytest

from pytest_mlxbench.backends.mlx_backend import TimedGeneration
from pytest_mlxbench.backends.models import (
    check_model_reference,
    context_length,
    describe_model,
    looks_like_hub_id,
)
from pytest_mlxbench.ci import detect_ci
from pytest_mlxbench.errors import BenchInputError
from pytest_mlxbench.fixtures import display_name
from pytest_mlxbench.measure import percentile, spread_tags
from pytest_mlxbench.system import RssSampler, detect_system, memory_snapshot


@pytest.mark.parametrize(("env", "trigger", "pr_number"), [
    ({}, "local", None),
    ({"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "pull_request", "GITHUB_REF": "refs/pull/7/merge"}, "pr", 7),
    ({"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "schedule"}, "schedule", None),
    ({"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "workflow_dispatch"}, "workflow_dispatch", None),
    ({"GITLAB_CI": "true", "CI_PIPELINE_SOURCE": "merge_request_event", "CI_MERGE_REQUEST_IID": "12"}, "pr", 12),
    ({"GITLAB_CI": "true", "CI_PIPELINE_SOURCE": "schedule"}, "schedule", None),
])
def test_trigger_and_pr_number_from_the_ci_environment(env, trigger, pr_number):
    context = detect_ci(env, None)
    assert (context.trigger, context.pr_number, context.notes) == (trigger, pr_number, ())


def test_a_pr_number_from_the_github_event_file(tmp_path):
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 99}}))
    env = {"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "pull_request_target", "GITHUB_REF": "refs/heads/main",
           "GITHUB_EVENT_PATH": str(event)}
    assert detect_ci(env, None).pr_number == 99


def test_a_ci_event_without_schema_value_is_recorded_with_a_note():
    context = detect_ci({"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "push"}, None)
    assert context.trigger == "workflow_dispatch"
    assert "'push' has no schema value" in context.notes[0]
    assert detect_ci({"CI": "true"}, None).trigger == "workflow_dispatch"


def test_an_explicit_trigger_wins_and_keeps_the_pr_number_only_for_pr():
    env = {"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "pull_request", "GITHUB_REF": "refs/pull/5/merge"}
    assert detect_ci(env, "pr").pr_number == 5
    assert (detect_ci(env, "local").trigger, detect_ci(env, "local").pr_number) == ("local", None)
    with pytest.raises(BenchInputError, match="'nightly' is not one of local, pr, schedule, workflow_dispatch"):
        detect_ci({}, "nightly")


@pytest.mark.parametrize(("reference", "is_hub_id"), [
    ("mlx-community/Qwen2.5-0.5B-Instruct-4bit", True),
    ("org/name", True),
    ("./models/x", False),
    ("/abs/path/model", False),
    ("plainname", False),
    ("a/b/c", False),
])
def test_hub_ids_are_told_from_paths(reference, is_hub_id):
    assert looks_like_hub_id(reference) is is_hub_id


def test_model_references(tmp_path):
    with pytest.raises(BenchInputError, match="no such directory or .gguf file, and not a Hugging Face id"):
        check_model_reference(str(tmp_path / "missing"))
    (tmp_path / "file.bin").write_text("x")
    with pytest.raises(BenchInputError, match="is a file, not a model directory"):
        check_model_reference(str(tmp_path / "file.bin"))
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    with pytest.raises(BenchInputError, match=r"missing \*.safetensors weights"):
        check_model_reference(str(model))
    (model / "model.safetensors").write_bytes(b"")
    assert check_model_reference(str(model)) == str(model.resolve())
    assert check_model_reference("mlx-community/any-model") == "mlx-community/any-model"


@pytest.mark.parametrize(("config", "quantization"), [
    ({"quantization": {"group_size": 64, "bits": 4}}, "mlx-4bit"),
    ({"quantization": {"group_size": 32, "bits": 4, "mode": "mxfp4"}}, "mxfp4"),
    ({"quantization_config": {"bits": 8, "quant_method": "awq"}}, "awq-8bit"),
    ({"torch_dtype": "bfloat16"}, "unquantized-bfloat16"),
    ({}, None),
])
def test_quantization_as_the_model_config_says(tmp_path, config, quantization):
    (tmp_path / "config.json").write_text(json.dumps({**config, "max_position_embeddings": 4096}))
    assert describe_model("m", tmp_path).quantization == quantization
    assert context_length(tmp_path) == 4096


def test_revision_of_a_hub_snapshot(tmp_path):
    snapshot = tmp_path / "models--org--name" / "snapshots" / ("ab" * 20)
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    assert describe_model("org/name", snapshot).revision == "ab" * 20
    assert display_name(str(snapshot)) == "org/name"
    assert display_name("/home/someone/models/Qwen3-4B-4bit") == "Qwen3-4B-4bit"
    assert display_name("mlx-community/Qwen3-4B-4bit") == "mlx-community/Qwen3-4B-4bit"


def test_percentiles_interpolate_like_numpy():
    values = [10.0, 20.0, 30.0, 40.0]
    assert percentile(values, 50) == 25.0
    assert percentile(values, 90) == pytest.approx(37.0)
    assert percentile(values, 0) == 10.0 and percentile(values, 100) == 40.0
    assert percentile([5.0], 99) == 5.0
    with pytest.raises(ValueError):
        percentile([], 50)


def test_spread_tags_carry_the_repeats():
    assert spread_tags([3.0, 1.0, 2.0]) == {"min": "1.0", "max": "3.0", "repeats": "3", "samples": "3.0,1.0,2.0"}
    assert float(spread_tags([146.14453125])["max"]) == 146.14453125


def test_rates_of_a_timed_generation():
    timing = TimedGeneration(prompt_tokens=100, generated_tokens=11, first_token_s=0.5, total_s=1.5,
                             mlx_peak_memory_mb=1.0)
    assert timing.prefill_tokens_per_second == 200.0
    assert timing.decode_tokens_per_second == 10.0  # 10 tokens after the first, in 1 s
    assert timing.total_tokens_per_second == 74.0


def test_system_detection_fills_the_schema_fields():
    system = detect_system(runner="self-hosted")
    assert {"os", "chip", "memory_gb", "python_version", "kernel", "mlx_version", "mlx_lm_version"} <= set(system)
    assert system["runner"] == "self-hosted" and system["memory_gb"] > 0


def test_system_detection_does_not_import_mlx():
    import subprocess
    import sys

    code = "import sys; from pytest_mlxbench.system import detect_system; detect_system(None); print('mlx.core' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


def test_memory_snapshot_and_rss_sampler():
    snapshot = memory_snapshot("x")
    assert snapshot["phase"] == "x" and snapshot["rss_gb"] > 0 and snapshot["free_gb"] > 0
    with RssSampler() as sampler:
        block = bytearray(64 * 1024 * 1024)
        block[::4096] = b"x" * len(block[::4096])
    assert sampler.peak_mb >= 64


def timing_with(text, completion_tokens, chunks):
    """A streamed reply of ``chunks`` content chunks: the first at 0.1 s, the last at 1.1 s."""
    from pytest_mlxbench.client import StreamResult

    size = -(-len(text) // chunks)
    pieces = [text[index * size:(index + 1) * size] for index in range(chunks)]
    times = [0.1 + index / (chunks - 1) for index in range(chunks)]
    return StreamResult(started=0.0, chunk_times=times, chunk_texts=pieces, last_chunk_at=times[-1],
                        completion_tokens=completion_tokens)


def test_completion_tokens_come_from_usage_then_the_tokenizer_then_chunks(tiny_model_dir):
    from pytest_mlxbench.measure import completion_tokens, decode_rate, token_counter

    count = token_counter(tiny_model_dir)
    text = "hello world, the lighthouse keeper"
    assert completion_tokens(timing_with(text, 9, 4), count) == (9, "server_usage")
    tokens, source = completion_tokens(timing_with(text, None, 4), count)
    assert source == "tokenizer" and tokens == count(text) and tokens > 4
    assert completion_tokens(timing_with(text, None, 4), None) == (4, "stream_chunks")
    assert token_counter(None) is None
    assert decode_rate(timing_with(text, 11, 4), 11) == pytest.approx(10.0)


def test_the_terminal_headline_prefers_measurements_over_counts():
    from pytest_mlxbench.report.terminal import headline

    rows = [{"name": "pass@1", "value": 0.5, "unit": "ratio"}, {"name": "verdict_failed", "value": 3, "unit": "count"},
            {"name": "latency_p50", "value": 1.23456, "unit": "seconds"}]
    assert headline(rows) == "pass@1 0.5 ratio; latency_p50 1.235 seconds; … 1 more"
    assert headline(rows[1:2]) == "verdict_failed 3 count"
