"""The serving load sweep: vLLM's metric definitions on known numbers, and the suite run as users
run it, against the timing stub through --mlx-base-url and against the managed mlx_lm.server."""

from __future__ import annotations

import json

import pytest
from support.contract import ROOT, read_envelopes, rows_by_name
from support.timing_stub import TimingStub

from pytest_mlxbench.suites.serving.loadgen import poisson_arrivals
from pytest_mlxbench.suites.serving.metrics import RequestRecord, point_metrics

SERVING = ROOT / "bench_suites" / "test_serving.py"


def run_serving(pytester, out, *args):
    return pytester.runpytest_subprocess(str(SERVING), "--bench-out", str(out), "-p", "no:cacheprovider", *args)


def test_point_metrics_follow_vllm_bench_serve_definitions():
    records = [
        RequestRecord("ok", 0.0, ttft_s=0.1, e2el_s=0.5, output_tokens=5, input_tokens=10,
                      itl_s=(0.1, 0.1, 0.1, 0.1)),
        RequestRecord("ok", 0.0, ttft_s=0.2, e2el_s=0.2, output_tokens=1, input_tokens=10),
        RequestRecord("failed", 0.0, error="HTTP 500"),
        RequestRecord("truncated", 0.0, error="cut"),
    ]
    metrics = point_metrics(records, duration_s=2.0, slo_ms={"ttft": 150})
    assert (metrics.requests, metrics.completed, metrics.failed, metrics.truncated) == (4, 2, 1, 1)
    assert metrics.request_throughput == 1.0  # completed / duration
    assert metrics.output_throughput == 3.0  # (5 + 1) / 2
    assert metrics.total_token_throughput == 13.0  # (10 + 10 + 5 + 1) / 2
    assert metrics.goodput == 0.5  # only the first request's TTFT is within 150 ms
    assert metrics.distributions_ms["tpot"] == pytest.approx([100.0])  # one-token replies have no TPOT
    assert metrics.statistic("ttft", "mean") == pytest.approx(150.0)
    assert metrics.statistic("ttft", "median") == pytest.approx(150.0)
    assert metrics.statistic("ttft", "p90") == pytest.approx(190.0)
    assert metrics.statistic("e2el", "p99") == pytest.approx(497.0)
    # a one-token reply counts as TPOT 0 for goodput, as in vLLM
    assert point_metrics(records, 2.0, {"tpot": 50}).good == 1
    assert point_metrics(records, 2.0, {"ttft": 300, "e2el": 400}).good == 1


def test_poisson_arrivals_are_seeded_and_end_at_count_over_rate():
    arrivals = poisson_arrivals(rate=8.0, count=40, seed=3)
    assert arrivals == poisson_arrivals(8.0, 40, 3) != poisson_arrivals(8.0, 40, 4)
    assert arrivals[-1] == pytest.approx(5.0) and arrivals == sorted(arrivals)


def test_sweep_against_an_external_server_counts_failures_and_truncations(pytester, tmp_path):
    out = tmp_path / "out"
    with TimingStub(first_ms=2, chunks=8, gap_ms=1, fail_every=5, truncate_every=7) as stub:
        result = run_serving(pytester, out, "--mlx-base-url", stub.base_url, "--load-concurrency", "1,4",
                             "--load-rate", "50", "--load-requests", "14", "--load-slo", "ttft=1000,tpot=100")
    assert result.ret == 0, result.stdout.str()
    envelopes = read_envelopes(out)
    throughput, latency = envelopes["throughput"], envelopes["ttft"]
    assert throughput["model"] == latency["model"] == "timing-stub"
    rows = rows_by_name(throughput)
    # 42 chat requests in all: every 5th failed (8), every 7th of the others was cut short (5)
    assert sum(rows[f"failed_requests_{point}"]["value"] for point in ("c1", "c4", "r50")) == 8
    assert sum(rows[f"truncated_requests_{point}"]["value"] for point in ("c1", "c4", "r50")) == 5
    request_rate = rows["request_throughput_c4"]
    tags = request_rate["tags"]
    assert tags["mode"] == "server" and tags["load"] == "closed" and tags["concurrency"] == "4"
    assert rows["request_throughput_r50"]["tags"]["load"] == "open_poisson"
    assert int(tags["completed"]) + int(tags["failed"]) + int(tags["truncated"]) == 14
    assert request_rate["value"] == pytest.approx(int(tags["completed"]) / request_rate["duration_seconds"])
    assert rows["output_throughput_c4"]["decode_tokens_per_second"] > 0
    assert rows["goodput_c4"]["tags"]["slo_ms"] == "ttft=1000,tpot=100"
    assert {"client_cpu_ms_per_request", "client_loop_lag_p99_ms", "client_saturated"} <= set(tags)
    assert "server_peak_rss_c4" not in rows  # an external server's process is not ours to sample
    assert any("failed and" in error and "truncated of 14 requests" in error for error in throughput["errors"])

    latency_rows = rows_by_name(latency)
    for metric in ("ttft", "tpot", "itl", "e2el"):
        for statistic in ("mean", "median", "p90", "p99"):
            row = latency_rows[f"{metric}_{statistic}_c1"]
            assert row["unit"] == "ms" and row["value"] >= 0
    assert latency_rows["ttft_median_c4"]["first_token_latency_ms"] >= 2.0  # the stub waits 2 ms
    assert latency_rows["itl_median_c1"]["value"] >= 0.5  # chunks 1 ms apart
    samples = [json.loads(line) for line in next(out.glob("*throughput*.samples.jsonl")).read_text().splitlines()]
    assert len(samples) == 42 and {sample["outcome"] for sample in samples} == {"ok", "failed", "truncated"}


def test_a_point_where_every_request_fails_is_a_harness_error_with_its_envelope(pytester, tmp_path):
    out = tmp_path / "out"
    with TimingStub(fail_every=1) as stub:
        result = run_serving(pytester, out, "--mlx-base-url", stub.base_url, "--load-concurrency", "2",
                             "--load-requests", "3", "-m", "throughput")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*point c2: none of 3 requests completed (harness error): the server answered HTTP 500*"])
    rows = rows_by_name(read_envelopes(out)["throughput"])
    assert rows["failed_requests_c2"]["value"] == 3 and rows["request_throughput_c2"]["value"] == 0


@pytest.mark.parametrize("args, message", [
    (("--load-slo", "ttft=fast"), "--load-slo 'ttft=fast': give limits in milliseconds"),
    (("--load-rate", "0"), "--load-rate '0' needs one or more positive request rates"),
    (("--load-requests", "4", "--load-duration", "2"), "--load-requests and --load-duration both given"),
])
def test_bad_load_options_are_one_line(pytester, tmp_path, args, message):
    result = run_serving(pytester, tmp_path / "out", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str() and "Traceback" not in result.stderr.str()


def test_sweep_against_the_managed_server_with_batching_options(pytester, tmp_path):
    out = tmp_path / "out"
    result = run_serving(pytester, out, "--load-concurrency", "1,4",
                         "--load-requests", "6", "--load-prompt-tokens", "24", "--load-output-tokens", "8",
                         "--server-decode-concurrency", "4", "--server-prompt-concurrency", "2")
    assert result.ret == 0, result.stdout.str()
    envelopes = read_envelopes(out)
    rows = rows_by_name(envelopes["throughput"])
    for point in ("c1", "c4"):
        tags = rows[f"request_throughput_{point}"]["tags"]
        assert tags["completed"] == "6" and tags["failed"] == tags["truncated"] == "0"
        assert tags["output_tokens_mean"] == "8.0"  # end-of-sequence suppressed with logit_bias
        assert tags["eos_suppression"] == "ignore_eos+logit_bias" and tags["server"] == "managed mlx_lm.server"
        assert tags["server_decode_concurrency"] == "4" and tags["server_prompt_concurrency"] == "2"
        assert float(tags["input_tokens_mean"]) >= 24  # the prompt plus the chat template's tokens
        assert rows[f"server_peak_rss_{point}"]["peak_rss_mb"] > 10
    latency = rows_by_name(envelopes["ttft"])
    assert latency["tpot_median_c4"]["value"] > 0 and latency["ttft_p99_c4"]["value"] >= latency["ttft_median_c4"]["value"]
    [log] = (out / "logs").glob("*-mlx_lm-server.log")
    assert log.read_text().count("POST /v1/chat/completions") >= 12


def test_server_batching_options_become_mlx_lm_server_arguments(pytester):
    from pytest_mlxbench.settings import Settings, managed_server_args

    config = pytester.parseconfig("--server-decode-concurrency", "4", "--server-prompt-concurrency", "2")
    assert managed_server_args(Settings.from_config(config)) == (
        "--decode-concurrency", "4", "--prompt-concurrency", "2")
    assert managed_server_args(Settings.from_config(pytester.parseconfig())) == ()
