"""How far the streaming measurement client's timings are from the truth.

Against the timing stub (``tests/support/timing_stub.py``: first content chunk D ms after the
request arrived, then chunks E ms apart, its own send times logged), for D = 5 and 50 ms at
concurrency 1 and 32, prints measured − true for TTFT (p50), end-to-end latency (p50) and the
decode rate (relative, p50), and exits non-zero when a bound of issue 15 is missed:
TTFT ≤ 1 ms at concurrency 1 and ≤ 2 ms at 32, end-to-end ≤ 1 ms (at concurrency 1; shown at 32),
decode rate ≤ 1%.

    python benchmarks/client_accuracy.py [--requests 64]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support.timing_stub import TimingStub  # noqa: E402

from pytest_mlxbench.client import StreamClient  # noqa: E402

CHUNKS, GAP_MS = 16, 20.0  # 50 tokens/s per stream: a fast local model
TTFT_BOUND_MS = {1: 1.0, 32: 2.0}
E2E_BOUND_MS = 1.0
DECODE_BOUND = 0.01


async def measure(base_url: str, requests: int, concurrency: int):
    async with StreamClient(base_url) as client:
        await client.warm_up(concurrency)
        gate = asyncio.Semaphore(concurrency)
        body = {"model": "timing-stub", "messages": [{"role": "user", "content": "hello"}], "max_tokens": CHUNKS}

        async def one():
            async with gate:
                return await client.chat_stream(body)

        return await asyncio.gather(*(one() for _ in range(requests)))


def errors(results, log):
    ttft, e2e, decode = [], [], []
    for result in results:
        true = log[result.response_id]
        sends, received = true["sends"], true["received"]
        ttft.append((result.ttft_s - (sends[0] - received)) * 1000)
        e2e.append((result.e2el_s - (sends[-1] - received)) * 1000)
        # the same tokens over the measured and the true time from first to last chunk
        true_span = sends[-1] - sends[0]
        decode.append(true_span / (result.chunk_times[-1] - result.chunk_times[0]) - 1
                      if result.chunk_times[-1] > result.chunk_times[0] else float("inf"))
    return statistics.median(ttft), statistics.median(e2e), statistics.median(decode)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=64)
    args = parser.parse_args()
    print(f"measured − true, p50 over {args.requests} requests; stub: first chunk after D ms, "
          f"then {CHUNKS - 1} chunks {GAP_MS:g} ms apart")
    print(f"{'D ms':>5} {'conc':>5} {'TTFT ms':>9} {'bound':>6} {'E2E ms':>8} {'bound':>6} {'decode':>8} {'bound':>6}  ok")
    missed = 0
    for concurrency in (1, 32):
        for first_ms in (5.0, 50.0):
            with TimingStub(first_ms=first_ms, chunks=CHUNKS, gap_ms=GAP_MS) as stub:
                results = asyncio.run(measure(stub.base_url, args.requests, concurrency))
                log = {entry["id"]: entry for entry in stub.drain_log()}
            ttft, e2e, decode = errors(results, log)
            e2e_bound = E2E_BOUND_MS if concurrency == 1 else None
            ok = (ttft <= TTFT_BOUND_MS[concurrency] and (e2e_bound is None or e2e <= e2e_bound)
                  and abs(decode) <= DECODE_BOUND)
            missed += not ok
            print(f"{first_ms:>5g} {concurrency:>5} {ttft:>9.3f} {TTFT_BOUND_MS[concurrency]:>6g} {e2e:>8.3f} "
                  f"{e2e_bound if e2e_bound else '-':>6} {decode:>+8.2%} {DECODE_BOUND:>6.0%}  {'yes' if ok else 'NO'}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
