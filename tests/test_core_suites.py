"""The throughput and TTFT suites, run as users run them: in process, through a managed
mlx_lm.server, against an already running server, and on a model directory given by path."""

import json
import shutil
import subprocess
import sys

import pytest
from support.contract import ROOT, read_envelopes, rows_by_name

SUITES = ROOT / "bench_suites"
NO_SWEEP = ("-k", "not serving")  # without the load sweep's tests (tests/test_serving_suite.py runs them)
SMALL_THROUGHPUT = ("--bench-prompt-lengths", "16,64", "--bench-gen-tokens", "8", "--bench-repeats", "2")


def run_suites(pytester, out, *args):
    return pytester.runpytest_subprocess(str(SUITES), "--bench-out", str(out), "-p", "no:cacheprovider", *args)


@pytest.fixture
def model_copy(tiny_model_dir, tmp_path):
    """A local model directory of the user's, by path."""
    target = tmp_path / "my-local-model"
    shutil.copytree(tiny_model_dir, target)
    return target


def test_throughput_in_process_on_the_builtin_model(pytester, tmp_path):
    out = tmp_path / "out"
    result = run_suites(pytester, out, "-m", "throughput", *NO_SWEEP, *SMALL_THROUGHPUT)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*throughput: 10 rows*", f"*envelope: {out}/*_throughput_mlxbench-tiny-llama.json"])
    envelope = read_envelopes(out)["throughput"]
    assert envelope["model"] == "mlxbench/tiny-llama" and envelope["model_revision"] == "v1"
    assert envelope["gen_kwargs"] == {"max_gen_toks": 8, "temperature": 0.0}
    rows = rows_by_name(envelope)
    fields = {"prefill": "prompt_tokens_per_second", "decode": "decode_tokens_per_second",
              "total": "total_tokens_per_second", "ttft": "first_token_latency_ms", "peak_rss": "peak_rss_mb"}
    for length in (16, 64):
        for prefix, field in fields.items():
            row = rows[f"{prefix}_{length}"]
            assert row[field] == row["value"] > 0
            assert float(row["tags"]["min"]) <= row["value"] <= float(row["tags"]["max"])
            assert row["tags"]["repeats"] == "2" and len(row["tags"]["samples"].split(",")) == 2
            assert row["tags"]["prompt_tokens"] == str(length) and row["duration_seconds"] > 0
            if "tokens" in row["tags"]:  # a rate: its tokens over its own duration
                assert int(row["tags"]["tokens"]) / row["duration_seconds"] == pytest.approx(row[field], rel=1e-12)
    snapshots = {snapshot["phase"]: snapshot for snapshot in envelope["memory_snapshots"]}
    assert list(snapshots) == ["start", "model_loaded", "end", "peak"]  # the pytest process: no server ran
    assert snapshots["peak"]["rss_gb"] >= max(snapshots[phase]["rss_gb"] for phase in ("start", "model_loaded", "end"))
    rows_peak_mb = max(row["peak_rss_mb"] for row in rows.values() if "peak_rss_mb" in row)
    assert rows_peak_mb <= snapshots["peak"]["rss_gb"] * 1024 + 0.1  # rss_gb holds 4 decimals: 0.1 MiB
    assert any(error.startswith("memory: MLX allocator peak") for error in envelope["errors"])


@pytest.mark.slow
def test_throughput_clips_prompts_to_the_model_context(pytester, tmp_path, model_copy):
    config = json.loads((model_copy / "config.json").read_text())
    config["max_position_embeddings"] = 40
    (model_copy / "config.json").write_text(json.dumps(config))
    out = tmp_path / "out"
    result = run_suites(pytester, out, "-m", "throughput", *NO_SWEEP, "--mlx-model", str(model_copy),
                        "--bench-prompt-lengths", "64", "--bench-gen-tokens", "8", "--bench-repeats", "1")
    assert result.ret == 0
    envelope = read_envelopes(out)["throughput"]
    assert envelope["model"] == "my-local-model"
    assert rows_by_name(envelope)["decode_32"]["tags"]["prompt_tokens"] == "32"
    assert any("prompt length 64 clipped to 32" in error for error in envelope["errors"])


def test_ttft_through_a_managed_server(pytester, tmp_path, model_copy):
    out = tmp_path / "out"
    result = run_suites(pytester, out, "-m", "ttft", "--ttft-requests", "4", "--bench-gen-tokens", "12",
                        "--mlx-model", str(model_copy), *NO_SWEEP)
    assert result.ret == 0
    envelope = read_envelopes(out)["ttft"]
    assert envelope["model"] == "my-local-model" and envelope["quantization"] == "unquantized-float32"
    rows = rows_by_name(envelope)
    assert rows["ttft_p50"]["value"] <= rows["ttft_p90"]["value"] <= rows["ttft_p99"]["value"]
    assert rows["ttft_p50"]["first_token_latency_ms"] == rows["ttft_p50"]["value"]
    assert rows["ttft_p50"]["tags"]["requests"] == "4" and "repeats" not in rows["ttft_p50"]["tags"]
    assert rows["ttft_p90"]["tags"]["request_statistic"] == "p90"
    assert len(rows["ttft_p90"]["tags"]["request_samples"].split(",")) == 4  # requests, not repeats of a run
    assert "ttft_cold" in rows and rows["e2e_latency_p99"]["unit"] == "seconds"
    assert rows["ttft_cold"]["tags"]["note"] == (
        "first generation of the suite; before it: the managed server's readiness request "
        "(one 1-token chat completion) and the client's warm-up GET /models")
    assert rows["decode"]["tags"]["token_count_source"] == "server_usage"
    assert rows["decode"]["decode_tokens_per_second"] > 0
    samples = [json.loads(line) for line in next(out.glob("*.samples.jsonl")).read_text().splitlines()]
    assert [sample["cold"] for sample in samples] == [True, False, False, False, False]
    assert all(sample["completion_tokens"] == 12 or sample["completion_tokens"] < 12 for sample in samples)
    [log] = (out / "logs").glob("*-mlx_lm-server.log")
    assert "POST /v1/chat/completions" in log.read_text()
    snapshots = {snapshot["phase"]: snapshot for snapshot in envelope["memory_snapshots"]}
    assert list(snapshots) == ["start", "ready", "stopping", "end", "peak", "server_ready", "server_stopping",
                               "server_peak"]
    # the server holds the model: its own RSS is measured, not the pytest process's
    assert snapshots["server_peak"]["rss_gb"] >= snapshots["server_ready"]["rss_gb"] > 0
    assert any(error.startswith("memory: phases prefixed server_") for error in envelope["errors"])


@pytest.mark.slow
def test_ttft_against_a_running_server_never_writes_the_api_key(pytester, tmp_path, running_server, monkeypatch):
    secret = "sk-mlxbench-SECRET-0123456789"
    monkeypatch.setenv("MLXBENCH_API_KEY", secret)
    out = tmp_path / "out"
    result = run_suites(pytester, out, "-m", "ttft", "--ttft-requests", "2", "--bench-gen-tokens", "4",
                        "--mlx-base-url", running_server.base_url, "-v", *NO_SWEEP)
    assert result.ret == 0
    envelope = read_envelopes(out)["ttft"]
    # mlx_lm.server lists its model by absolute path: the envelope names the directory, not the path
    assert envelope["model"] == running_server.model_dir.name
    assert envelope["quantization"] == "unquantized-float32"  # read from the served directory's config.json
    assert not (out / "logs").exists()  # no managed server was started
    assert "before it: nothing from this suite but the client's warm-up GET /models" in (
        rows_by_name(envelope)["ttft_cold"]["tags"]["note"])
    written = "".join(path.read_text() for path in out.rglob("*") if path.is_file())
    assert secret not in written and secret not in result.stdout.str() + result.stderr.str()


@pytest.mark.slow
def test_a_dead_server_errors_the_tests_that_need_it_with_its_log(pytester, tmp_path):
    pytester.makepyfile(test_dies="""
        import pytest_mlxbench
        pytestmark = pytest_mlxbench.suite("ttft")

        def test_measures_then_server_dies(openai_client, mlx_endpoint, record_metric):
            record_metric("ttft_p50", "ttft", 12.0, "ms")
            mlx_endpoint.server.process.kill()   # a real fault: the server process is gone
            mlx_endpoint.server.process.wait()

        def test_needs_the_server(openai_client):
            pass
    """)
    out = tmp_path / "out"
    result = pytester.runpytest_subprocess("--bench-out", str(out))
    result.assert_outcomes(failed=1, errors=1)  # what it measured is kept, but its server died under it
    result.stdout.fnmatch_lines(["*_ ERROR at setup of test_needs_the_server _*",
                                 "the managed mlx_lm.server died at test 1 (killed by SIGKILL); log: *-mlx_lm-server.log",
                                 "*= mlxbench server =*",
                                 ("the managed mlx_lm.server died during test 1 (test_dies.py::test_measures_then_server_dies):"
                                  " killed by SIGKILL; last log line: *; log: *")])
    envelope = read_envelopes(out)["ttft"]
    assert rows_by_name(envelope)["ttft_p50"]["value"] == 12.0
    assert any("test_needs_the_server (in setup): " in error and "died at test 1" in error for error in envelope["errors"])
    assert any("test_measures_then_server_dies: the managed mlx_lm.server died during this test: killed by SIGKILL"
               in error for error in envelope["errors"])
    assert any(error.startswith("the managed mlx_lm.server died during test 1") for error in envelope["errors"])


@pytest.mark.slow
def test_sync_and_async_clients_talk_to_the_managed_server(pytester, tmp_path):
    pytester.makepyfile(test_clients="""
        import asyncio
        import pytest_mlxbench
        pytestmark = pytest_mlxbench.suite("ttft")

        def test_both(openai_client, async_openai_client, mlx_endpoint, bench_gen_kwargs, record_metric):
            request = {"model": mlx_endpoint.model, "messages": [{"role": "user", "content": "hi"}],
                       **bench_gen_kwargs, "max_tokens": 3}
            sync_reply = openai_client.chat.completions.create(**request)
            async_reply = asyncio.run(async_openai_client.chat.completions.create(**request))
            assert sync_reply.usage.completion_tokens == async_reply.usage.completion_tokens == 3
            assert sync_reply.choices[0].message.content == async_reply.choices[0].message.content
            record_metric("completion_tokens", "tokens", sync_reply.usage.completion_tokens, "count")
    """)
    out = tmp_path / "out"
    result = pytester.runpytest_subprocess("--bench-out", str(out))
    result.assert_outcomes(passed=1)
    envelope = read_envelopes(out)["ttft"]
    assert envelope["gen_kwargs"] == {"max_gen_toks": 32, "temperature": 0.0}  # the tiny model's short setting


def scaled_envelope(envelope: dict, factor: float) -> dict:
    """The envelope with every decode rate (value, field and repeat tags) multiplied by factor."""
    scaled = json.loads(json.dumps(envelope))
    for row in scaled["results"]:
        if row["name"].startswith("decode_"):
            row["value"] *= factor
            row["decode_tokens_per_second"] *= factor
            tags = row["tags"]
            tags["min"], tags["max"] = (str(float(tags[key]) * factor) for key in ("min", "max"))
            tags["samples"] = ",".join(str(float(sample) * factor) for sample in tags["samples"].split(","))
    return scaled


def faster_than_any_noise(envelope: dict) -> float:
    """A speed-up for the baseline that puts every one of its repeats above every current repeat,
    however noisy this machine made them, and at least 25%."""
    spreads = [float(row["tags"]["max"]) / float(row["tags"]["min"])
               for row in envelope["results"] if row["name"].startswith("decode_")]
    return max(1.25, 1.01 * max(spreads))


def test_real_throughput_numbers_pass_against_themselves_and_fail_an_injected_regression(pytester, tmp_path):
    out = tmp_path / "out"
    assert run_suites(pytester, out, "-m", "throughput", *NO_SWEEP, *SMALL_THROUGHPUT, "--bench-repeats", "3").ret == 0
    [written] = out.glob("*throughput*.json")
    rules = tmp_path / "rules.toml"
    rules.write_text('[[rule]]\nsuite = "throughput"\nname = "decode_*"\nfield = "decode_tokens_per_second"\n'
                     "max_drop_pct = 10\n")
    report = [sys.executable, "-m", "pytest_mlxbench", "report", str(written), "--out", str(tmp_path / "page"),
              "--thresholds", str(rules)]
    same = subprocess.run([*report, "--baseline", str(written)], capture_output=True, text=True)
    assert same.returncode == 0, same.stdout + same.stderr
    assert "2 passed" in same.stdout

    envelope = json.loads(written.read_text())
    factor = faster_than_any_noise(envelope)
    faster_baseline = tmp_path / "baseline.json"
    faster_baseline.write_text(json.dumps(scaled_envelope(envelope, factor)))
    regressed = subprocess.run([*report, "--baseline", str(faster_baseline)], capture_output=True, text=True)
    assert regressed.returncode == 1, regressed.stdout + regressed.stderr
    change = f"({(1 / factor - 1) * 100:+.1f}%), limit drop <= 10%; beyond run noise (p = 0.05;"
    assert "2 failed" in regressed.stdout and change in regressed.stdout
    assert "3 vs 3 repeats, one-sided Mann-Whitney U (false-alarm rate 5%)" in regressed.stdout
