"""How fast can a benchmark client go before it measures itself? Sustained request rate and CPU
per request of our streaming client beside a raw-socket client, httpx, aiohttp, the openai SDK
and guidellm, all against the same timing stub, in one run.

Goals (issue 15): our sustained request rate ≥ 5× guidellm's (where guidellm is installed in
``.venv-guidellm`` beside this checkout, or ``--guidellm PATH``), and our TTFT p50 at concurrency 8
within 2 ms of the raw socket client's. Exits non-zero when a goal measured in this run is missed.

    python benchmarks/client_saturation.py [--requests 2000] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support.timing_stub import TimingStub  # noqa: E402

from pytest_mlxbench.client import StreamClient  # noqa: E402

BODY = {"model": "timing-stub", "messages": [{"role": "user", "content": "hello there"}], "max_tokens": 16}
SATURATION_STUB = {"first_ms": 1.0, "chunks": 16, "gap_ms": 0.0}  # as fast as the stub can answer
TTFT_STUB = {"first_ms": 5.0, "chunks": 16, "gap_ms": 5.0}


# --- the clients: each streams one request and returns its TTFT (s) --------------------------


def ours(base_url):
    client = StreamClient(base_url)

    async def one():
        result = await client.chat_stream(BODY)
        if result.outcome != "ok":
            raise RuntimeError(result.error)
        return result.ttft_s

    return one, client.close


def raw_socket(base_url):
    """The floor: pre-built request bytes on kept-alive asyncio streams, no parsing beyond
    finding the first content and the end of the chunked body."""
    host, port = base_url.split("//")[1].split("/")[0].split(":")
    payload = json.dumps({**BODY, "stream": True}).encode()
    request = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(payload)}\r\n\r\n").encode() + payload
    idle = []

    async def one():
        reader, writer = idle.pop() if idle else await asyncio.open_connection(host, int(port))
        started = time.perf_counter()
        writer.write(request)
        seen, first = b"", None
        while not seen.endswith(b"0\r\n\r\n"):
            data = await reader.read(65536)
            if not data:
                raise ConnectionError("closed")
            if first is None and b'"content"' in data:
                first = time.perf_counter()
            seen = (seen + data)[-16:]
        idle.append((reader, writer))
        return first - started

    return one, lambda: [writer.close() for _, writer in idle]


def httpx_client(base_url):
    import httpx

    client = httpx.AsyncClient(base_url=base_url, limits=httpx.Limits(max_connections=None), timeout=60)

    async def one():
        started, first = time.perf_counter(), None
        async with client.stream("POST", "/chat/completions", json={**BODY, "stream": True}) as reply:
            async for line in reply.aiter_lines():
                if first is None and '"content"' in line:
                    first = time.perf_counter()
        return first - started

    return one, client.aclose


def aiohttp_client(base_url):
    import aiohttp

    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))

    async def one():
        started, first = time.perf_counter(), None
        async with session.post(f"{base_url}/chat/completions", json={**BODY, "stream": True}) as reply:
            async for data in reply.content.iter_any():
                if first is None and b'"content"' in data:
                    first = time.perf_counter()
        return first - started

    return one, session.close


def openai_client(base_url):
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=base_url, api_key="none", max_retries=0)

    async def one():
        started, first = time.perf_counter(), None
        stream = await client.chat.completions.create(stream=True, **BODY)
        async for chunk in stream:
            if first is None and chunk.choices and chunk.choices[0].delta.content:
                first = time.perf_counter()
        return first - started

    return one, client.close


CLIENTS = {"ours": ours, "raw socket": raw_socket, "httpx": httpx_client, "aiohttp": aiohttp_client,
           "openai AsyncOpenAI": openai_client}


async def closed_loop(make, base_url, requests, concurrency):
    one, close = make(base_url)
    counter = iter(range(requests))
    ttfts = []

    async def worker():
        for _ in counter:
            ttfts.append(await one())

    await asyncio.gather(*(worker() for _ in range(concurrency)))  # warm-up: connections, imports
    counter = iter(range(requests))
    ttfts.clear()
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    closing = close()
    if asyncio.iscoroutine(closing):
        await closing
    return requests / wall, cpu * 1000 / requests, statistics.median(ttfts) * 1000


def guidellm_rate(executable: Path, base_url: str, requests: int, concurrency: int, out: Path):
    """guidellm's sustained request rate (successful requests over its own request window) and
    its client CPU per request (its process and worker processes, from their rusage)."""
    import os

    from pytest_mlxbench.backends.tinymodel import ensure_tiny_model

    command = [str(executable), "run", "--backend", f"kind=openai_http,target={base_url.removesuffix('/v1')},model=timing-stub",
               "--profile", f"kind=concurrent,streams={concurrency}", "--constraint", f"kind=max_requests,count={requests}",
               "--data", "kind=synthetic_text,prompt_tokens=8,output_tokens=16",
               "--tokenizer", f"kind=huggingface_auto,model={ensure_tiny_model()}",  # a local tokenizer: no hub
               "--output", f"kind=json,path={out}", "--disable-console-interactive"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0 or not out.exists():
        return None, (done.stderr or done.stdout).strip().splitlines()[-1:]
    cpu_s = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    state = json.loads(out.read_text())["benchmarks"][0]["scheduler_state"]
    window = state["end_requests_time"] - state["start_requests_time"]
    return (state["successful_requests"] / window, cpu_s * 1000 / requests), None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--guidellm", type=Path, default=ROOT / ".venv-guidellm" / "bin" / "guidellm")
    args = parser.parse_args()

    print(f"closed loop, concurrency {args.concurrency}, {args.requests} requests, stub {SATURATION_STUB}")
    print(f"{'client':<20} {'req/s':>8} {'CPU ms/req':>11}")
    rates = {}
    with TimingStub(**SATURATION_STUB) as stub:
        for name, make in CLIENTS.items():
            try:
                rate, cpu_ms, _ = asyncio.run(closed_loop(make, stub.base_url, args.requests, args.concurrency))
            except ImportError:
                print(f"{name:<20} {'not installed':>20}")
                continue
            rates[name] = rate
            print(f"{name:<20} {rate:>8.0f} {cpu_ms:>11.3f}")
        guidellm = None
        if args.guidellm.exists():  # its CPU includes its start-up (≈ 15 s of imports and workers)
            result, problem = guidellm_rate(args.guidellm, stub.base_url, args.requests, args.concurrency,
                                            Path("/tmp") / f"guidellm-{stub.port}.json")
            if result and result[0]:
                guidellm = result[0]
                print(f"{'guidellm':<20} {result[0]:>8.0f} {result[1]:>11.3f}")
            else:
                print(f"{'guidellm':<20} failed: {problem}")
        else:
            print(f"{'guidellm':<20} not installed ({args.guidellm})")

    print(f"\nTTFT p50 at concurrency 8, stub {TTFT_STUB} (true TTFT ≈ 5 ms)")
    ttfts = {}
    with TimingStub(**TTFT_STUB) as stub:
        for name in ("raw socket", "ours"):
            ttfts[name] = asyncio.run(closed_loop(CLIENTS[name], stub.base_url, 400, 8))[2]
            print(f"{name:<20} {ttfts[name]:>8.3f} ms")

    missed = []
    if guidellm:
        ratio = rates["ours"] / guidellm
        print(f"\nours / guidellm request rate: {ratio:.1f}x (goal >= 5x)")
        missed += [] if ratio >= 5 else ["request rate vs guidellm"]
    gap = ttfts["ours"] - ttfts["raw socket"]
    print(f"TTFT p50 ours − raw socket: {gap:+.3f} ms (goal <= 2 ms)")
    missed += [] if gap <= 2 else ["TTFT vs raw socket"]
    if missed:
        print("MISSED: " + ", ".join(missed))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
