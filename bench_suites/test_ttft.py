"""TTFT suite: time to first token through an OpenAI-compatible server, streamed through the
measurement client (``pytest_mlxbench.client``: chunks stamped when their bytes arrive).

TTFT runs from sending the request to the first chunk that carries generated content (a
role-only chunk does not count); end-to-end latency to the last chunk with choices. Before
anything is measured the client is warmed up with ``GET /models``, which opens its connection
and touches no model, so the cold row is the server's first generation of the suite, not the
client's first request. Then N requests, one at a time, give p50, p90 and p99 of TTFT and
end-to-end latency, and the decode rate from the server's usage (or, where the server reports
none, from the tokenizer, or from the count of content chunks).
"""

import asyncio
import uuid

import pytest

import pytest_mlxbench
from pytest_mlxbench.backends.server import ServerError
from pytest_mlxbench.client import StreamClient
from pytest_mlxbench.measure import (
    completion_tokens,
    decode_rate,
    local_model_dir,
    median,
    percentile,
    request_tags,
    token_counter,
)

pytestmark = pytest_mlxbench.suite("ttft")

PROMPT = (
    "Write a short story about a lighthouse keeper who finds a message in a bottle. "
    "Describe the weather, the sea and the keeper's thoughts as the evening comes."
)
PERCENTILES = (50, 90, 99)


async def stream_in_turn(endpoint, bodies):
    async with StreamClient(endpoint.base_url, endpoint.api_key) as client:
        await client.warm_up()
        return [await client.chat_stream(body) for body in bodies]


def cold_note(endpoint, request) -> str:
    """Exactly what reached the server before the cold request."""
    if endpoint.server is not None:
        before = "the managed server's readiness request (one 1-token chat completion) and the client's warm-up GET /models"
    else:
        before = "nothing from this suite but the client's warm-up GET /models (the server's earlier history is unknown)"
    position = request.session.items.index(request.node) if request.node in request.session.items else 0
    earlier = sum("mlx_endpoint" in getattr(item, "fixturenames", ()) for item in request.session.items[:position])
    if earlier:
        before += f", after {earlier} earlier test(s) of this session that used the server"
    return f"first generation of the suite; before it: {before}"


def test_ttft(mlx_endpoint, mlxbench_settings, mlxbench_model, record_metric, record_sample, record_note, record_gen_kwargs, request):
    settings = mlxbench_settings
    try:
        mlx_endpoint.check_alive()
    except ServerError as error:
        pytest.fail(str(error), pytrace=False)
    record_gen_kwargs(max_gen_toks=settings.gen_tokens, temperature=settings.temperature)
    count_tokens = token_counter(local_model_dir(mlx_endpoint, mlxbench_model.reference))
    run_id = uuid.uuid4().hex[:8]
    # a prefix unique to the request, so no prompt cache serves one request from another
    bodies = [{"model": mlx_endpoint.model, "max_tokens": settings.gen_tokens, "temperature": settings.temperature,
               "seed": settings.seed, "messages": [{"role": "user", "content": f"[{run_id}-{index}] {PROMPT}"}]}
              for index in range(settings.ttft_requests + 1)]
    results = asyncio.run(stream_in_turn(mlx_endpoint, bodies))

    measured = []
    for index, result in enumerate(results):
        tokens, source = completion_tokens(result, count_tokens)
        record_sample({"request": index, "cold": index == 0, "ttft_ms": _ms(result.ttft_s), "e2el_ms": _ms(result.e2el_s),
                       "completion_tokens": tokens, "token_count_source": source, "outcome": result.outcome,
                       "error": result.error, "text": result.text[:2000]})
        measured.append((result, tokens, source))
    failed = [result for result, _, _ in measured if result.outcome != "ok"]
    if failed:
        record_note(f"{len(failed)} of {len(results)} requests failed or were cut short; first: {failed[0].error}")
    cold, warm = measured[0], [entry for entry in measured[1:] if entry[0].outcome == "ok"]
    if not warm:
        pytest.fail(f"none of the {len(measured) - 1} requests streamed a complete reply: TTFT cannot be measured"
                    f" ({failed[0].error})", pytrace=False)
    record_rows(record_metric, cold, warm, requested=len(measured) - 1, note=cold_note(mlx_endpoint, request))


def record_rows(record_metric, cold, answered, requested, note):
    ttfts = [result.ttft_s * 1000 for result, _, _ in answered]
    totals = [result.e2el_s for result, _, _ in answered]
    sources = sorted({source for _, _, source in answered})
    tags = {"requests": requested, "answered": len(answered), "token_count_source": ",".join(sources),
            "client": "pytest_mlxbench.client"}

    if cold[0].outcome == "ok":
        record_metric("ttft_cold", "ttft", cold[0].ttft_s * 1000, "ms", first_token_latency_ms=cold[0].ttft_s * 1000,
                      duration_seconds=cold[0].e2el_s, tags={"note": note})
    for q in PERCENTILES:
        value = percentile(ttfts, q)
        record_metric(f"ttft_p{q}", "ttft", value, "ms", first_token_latency_ms=value,
                      tags={**tags, **request_tags(ttfts, f"p{q}")})
    for q in PERCENTILES:
        record_metric(f"e2e_latency_p{q}", "latency", percentile(totals, q), "seconds",
                      duration_seconds=percentile(totals, q), tags={**tags, **request_tags(totals, f"p{q}")})
    rates = [rate for result, tokens, _ in answered if (rate := decode_rate(result, tokens)) is not None]
    if rates:
        record_metric("decode", "decode_throughput", median(rates), "tok/s", decode_tokens_per_second=median(rates),
                      tags={**tags, **request_tags(rates, "p50")})


def _ms(seconds):
    return None if seconds is None else seconds * 1000
