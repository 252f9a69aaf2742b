"""The streaming measurement client against the timing stub (a real loopback server in its own
process with known delays and its own log of send times), plus its SSE and HTTP parsing fed
bytes split at every position.

Timing bounds use causality, not this machine's speed: the client's clock starts before the stub
receives the request and stops after the stub sent the chunk, so measured − true is never
negative; the upper bounds are generous (tens of ms) and still far below the delays under test.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from support.timing_stub import TimingStub

from pytest_mlxbench.client import StreamClient
from pytest_mlxbench.client.http1 import Response
from pytest_mlxbench.client.sse import SseParser
from pytest_mlxbench.suites.serving.metrics import request_record

SLACK_MS = 25.0


def chat(content="a b c", max_tokens=64, **extra):
    return {"model": "timing-stub", "messages": [{"role": "user", "content": content}], "max_tokens": max_tokens,
            **extra}


def stream_all(base_url, bodies, concurrency=1, timeout_s=600.0):
    async def run():
        async with StreamClient(base_url, timeout_s=timeout_s) as client:
            await client.warm_up(concurrency)
            gate = asyncio.Semaphore(concurrency)

            async def one(body):
                async with gate:
                    return await client.chat_stream(body)

            results = await asyncio.gather(*(one(body) for body in bodies))
            return results, len(client._idle)

    return asyncio.run(run())


def test_sse_events_come_out_whole_wherever_the_bytes_are_split():
    stream = (b": ping\r\n\r\ndata: {\"a\": 1}\r\n\r\ndata: line one\ndata: line two\n\n"
              b"event: x\rdata: [DONE]\r\rdata: {\"cut\"")
    expected = ['{"a": 1}', "line one\nline two", "[DONE]"]
    for split in range(len(stream) + 1):
        parser = SseParser()
        assert parser.feed(stream[:split]) + parser.feed(stream[split:]) == expected, split
    parser = SseParser()
    assert [event for byte in stream for event in parser.feed(bytes([byte]))] == expected


def test_chunked_bodies_parse_wherever_the_bytes_are_split():
    raw = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/event-stream\r\n\r\n"
           b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: 1\r\n\r\n")

    async def parse(pieces):
        body = bytearray()
        response = Response(lambda data, now: body.extend(data))
        for piece in pieces:
            response.feed(piece, 0.0)
        return response.done.done(), response.keep_alive, bytes(body)

    for split in range(len(raw) + 1):
        assert asyncio.run(parse([raw[:split], raw[split:]])) == (True, True, b"hello, world"), split


def test_ttft_end_to_end_and_decode_span_match_the_stubs_own_send_times():
    with TimingStub(first_ms=50, chunks=12, gap_ms=5) as stub:
        results, idle = stream_all(stub.base_url, [chat(f"request {index}") for index in range(6)])
        log = {entry["id"]: entry for entry in stub.drain_log()}
    assert idle == 1  # one keep-alive connection served every request
    for result in results:
        true = log[result.response_id]
        true_ttft = (true["sends"][0] - true["received"]) * 1000
        true_e2e = (true["sends"][-1] - true["received"]) * 1000
        assert true_ttft >= 49.0  # the stub did wait (its timers may fire up to ~1 ms late)
        assert 0 <= result.ttft_s * 1000 - true_ttft < SLACK_MS
        assert 0 <= result.e2el_s * 1000 - true_e2e < SLACK_MS
        true_span = (true["sends"][-1] - true["sends"][0]) * 1000
        measured_span = (result.chunk_times[-1] - result.chunk_times[0]) * 1000
        assert abs(measured_span - true_span) < SLACK_MS
        assert len(result.chunk_times) == 12 and result.completion_tokens == 12 and result.outcome == "ok"
        assert result.finish_reason == "length" and result.done and result.prompt_tokens == 2


def test_http10_servers_that_close_after_each_reply_work_with_a_connection_per_request():
    with TimingStub(first_ms=5, chunks=4, gap_ms=1, http10=True) as stub:
        results, idle = stream_all(stub.base_url, [chat() for _ in range(5)], concurrency=2)
    assert [result.outcome for result in results] == ["ok"] * 5 and idle == 0
    assert all(result.completion_tokens == 4 for result in results)


def test_failed_truncated_refused_and_timed_out_requests_are_told_apart():
    with TimingStub(first_ms=1, chunks=8, gap_ms=1, fail_every=3, truncate_every=4) as stub:
        results, _ = stream_all(stub.base_url, [chat() for _ in range(8)])
        slow, _ = stream_all(stub.base_url, [chat(stub={"first_ms": 2000, "fail_every": 0})], timeout_s=0.2)
    outcomes = [result.outcome for result in results]
    assert outcomes == ["ok", "ok", "failed", "truncated", "ok", "failed", "ok", "truncated"]
    assert results[2].error.startswith("the server answered HTTP 500: ") and "stub failure" in results[2].error
    assert results[3].chunk_times and results[3].finish_reason is None and not results[3].done
    assert slow[0].outcome == "failed" and "no complete reply after" in slow[0].error

    port = stub.port  # the stub has stopped: nothing listens there now
    refused, _ = asyncio.run(_refused(f"http://127.0.0.1:{port}/v1"))
    assert refused.outcome == "failed" and "ConnectionRefusedError" in refused.error


async def _refused(base_url):
    async with StreamClient(base_url) as client:
        return await client.chat_stream(chat()), None


def test_multi_token_chunks_count_every_token_in_the_inter_token_latencies():
    with TimingStub(first_ms=5, chunks=6, gap_ms=6, tokens_per_chunk=3) as stub:
        [result], _ = stream_all(stub.base_url, [chat(max_tokens=64)])
    record = request_record(result, 3, count_tokens=lambda text: len(text.split()))
    assert record.output_tokens == 18 and len(record.itl_s) == 17
    assert sum(record.itl_s) == pytest.approx(record.e2el_s - record.ttft_s)
    assert record.itl_s[:2] == (0.0, 0.0)  # the first chunk's other two tokens came with it
    assert record.tpot_s == pytest.approx(sum(record.itl_s) / 17)


def test_warm_up_lists_the_models_without_a_chat_request():
    async def warm(base_url):
        async with StreamClient(base_url) as client:
            return await client.warm_up(3), len(client._idle)

    with TimingStub() as stub:
        models, idle = asyncio.run(warm(stub.base_url))
        assert stub.drain_log() == []  # no chat completion reached the stub
    assert models == ["timing-stub"] and idle == 3
    assert json.dumps(models)


def test_a_blocked_event_loop_and_a_busy_cpu_mark_the_client_saturated():
    from pytest_mlxbench.client.saturation import Saturation, SaturationMeter

    async def blocked():
        async with SaturationMeter(interval_s=0.005) as meter:
            for _ in range(3):
                time.sleep(0.03)  # the loop can answer nothing meanwhile: a probe due now waits
                await asyncio.sleep(0.01)
        return meter.result(requests=3)

    saturation = asyncio.run(blocked())
    assert max(saturation.lag_ms) >= 20 and saturation.saturated
    assert "event-loop lag p99" in saturation.reasons[-1] and saturation.tags()["client_saturated"] == "true"
    busy = Saturation(cpu_seconds=0.95, wall_seconds=1.0, requests=100, lag_ms=(0.1,))
    idle = Saturation(cpu_seconds=0.10, wall_seconds=1.0, requests=100, lag_ms=(0.1,))
    assert busy.saturated and busy.reasons == ["client CPU 95% of a core (limit 90%)"]
    assert not idle.saturated and idle.tags()["client_cpu_ms_per_request"] == "1.000"


def test_a_page_that_is_no_event_stream_is_named_by_its_status_and_body():
    from support.stub_server import Answer, StubServer

    page = Answer(200, b"<html>Welcome to the hotel wifi</html>", content_type="text/html")
    with StubServer(lambda request: page) as stub:
        [result], _ = stream_all(stub.base_url, [chat()])
    assert result.outcome == "failed"
    assert result.error == ("the server answered HTTP 200 with no event stream (text/html): "
                            "'<html>Welcome to the hotel wifi</html>'")
