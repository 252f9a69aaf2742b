"""TTFT suite: time to first token through an OpenAI-compatible server, streaming.

TTFT runs from sending the request to the first chunk that carries generated content (a
role-only chunk does not count). One cold request is reported on its own, then N requests give
p50, p90 and p99 of TTFT and end-to-end latency, and the decode rate from the server's usage
(or, where the server reports none, from the tokenizer, or from the count of content chunks).
"""

import uuid
from pathlib import Path

import pytest

import pytest_mlxbench
from pytest_mlxbench.measure import (
    completion_tokens,
    median,
    percentile,
    request_tags,
    timed_stream,
    token_counter,
)

pytestmark = pytest_mlxbench.suite("ttft")

PROMPT = (
    "Write a short story about a lighthouse keeper who finds a message in a bottle. "
    "Describe the weather, the sea and the keeper's thoughts as the evening comes."
)
PERCENTILES = (50, 90, 99)


@pytest.fixture
def ttft_model_path(mlx_endpoint, mlxbench_model):
    """The local model directory for counting tokens: the managed server's model, or --mlx-model."""
    if mlx_endpoint.server is not None:
        return mlx_endpoint.server.model_dir
    model = mlxbench_model.reference
    return Path(model) if model and Path(model).is_dir() else None


def test_ttft(openai_client, mlx_endpoint, mlxbench_settings, ttft_model_path, record_metric,
              record_sample, record_gen_kwargs):
    settings = mlxbench_settings
    request = {"model": mlx_endpoint.model, "max_tokens": settings.gen_tokens,
               "temperature": settings.temperature, "seed": settings.seed}
    record_gen_kwargs(max_gen_toks=settings.gen_tokens, temperature=settings.temperature)
    count_tokens = token_counter(ttft_model_path)
    run_id = uuid.uuid4().hex[:8]

    timings = []
    for index in range(settings.ttft_requests + 1):
        # a prefix unique to the request, so no prompt cache serves one request from another
        messages = [{"role": "user", "content": f"[{run_id}-{index}] {PROMPT}"}]
        timing = timed_stream(openai_client, messages=messages, **request)
        tokens, source = completion_tokens(timing, count_tokens)
        record_sample({"request": index, "cold": index == 0, "ttft_ms": _ms(timing.ttft_s),
                       "total_s": timing.total_s, "completion_tokens": tokens, "token_count_source": source,
                       "text": timing.text[:2000]})
        timings.append((timing, tokens, source))

    cold, warm = timings[0], timings[1:]
    answered = [entry for entry in warm if entry[0].ttft_s is not None]
    if not answered:
        pytest.fail(f"none of the {len(warm)} requests streamed any content: TTFT cannot be measured")
    record_rows(record_metric, cold, answered, requested=len(warm))


def record_rows(record_metric, cold, answered, requested):
    ttfts = [timing.ttft_s * 1000 for timing, _, _ in answered]
    totals = [timing.total_s for timing, _, _ in answered]
    sources = sorted({source for _, _, source in answered})
    tags = {"requests": requested, "answered": len(answered), "token_count_source": ",".join(sources)}

    if cold[0].ttft_s is not None:
        record_metric("ttft_cold", "ttft", cold[0].ttft_s * 1000, "ms", first_token_latency_ms=cold[0].ttft_s * 1000,
                      duration_seconds=cold[0].total_s,
                      tags={"note": "first request of the suite; the server answered one readiness request before"})
    for q in PERCENTILES:
        value = percentile(ttfts, q)
        record_metric(f"ttft_p{q}", "ttft", value, "ms", first_token_latency_ms=value,
                      tags={**tags, **request_tags(ttfts, f"p{q}")})
    for q in PERCENTILES:
        record_metric(f"e2e_latency_p{q}", "latency", percentile(totals, q), "seconds",
                      duration_seconds=percentile(totals, q), tags={**tags, **request_tags(totals, f"p{q}")})
    rates = [rate for timing, tokens, _ in answered if (rate := timing.decode_tokens_per_second(tokens)) is not None]
    if rates:
        record_metric("decode", "decode_throughput", median(rates), "tok/s", decode_tokens_per_second=median(rates),
                      tags={**tags, **request_tags(rates, "p50")})


def _ms(seconds):
    return None if seconds is None else seconds * 1000
