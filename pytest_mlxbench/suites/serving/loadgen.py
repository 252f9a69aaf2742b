"""Running one load point: closed loop (N requests always in flight) or open loop (Poisson
arrivals at R requests/s, like vLLM's ``--request-rate``), for a request count or a duration,
while the client's saturation and the server's peak RSS are measured."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from dataclasses import dataclass

from pytest_mlxbench.client import StreamClient, StreamResult
from pytest_mlxbench.client.saturation import Saturation, SaturationMeter
from pytest_mlxbench.suites.serving.metrics import (
    PointMetrics,
    RequestRecord,
    point_metrics,
    request_record,
)
from pytest_mlxbench.suites.serving.workload import (
    DEFAULT_REQUESTS,
    LoadPoint,
    Workload,
)

WARM_CONNECTIONS_MAX = 64
RSS_INTERVAL_S = 0.05


@dataclass(frozen=True)
class Budget:
    requests: int | None = None
    duration_s: float | None = None

    def tags(self) -> dict[str, str]:
        return {"budget": f"{self.requests} requests" if self.requests else f"{self.duration_s:g} s"}


@dataclass(frozen=True)
class PointRun:
    point: LoadPoint
    records: list[RequestRecord]
    metrics: PointMetrics
    saturation: Saturation
    server_peak_rss_mb: float | None


def run_point(base_url: str, api_key: str | None, point: LoadPoint, workload: Workload, budget: Budget,
              seed: int, slo_ms: dict[str, float] | None, server_pid: int | None = None) -> PointRun:
    """Run the point in its own event loop; the server's RSS is sampled meanwhile (when its
    process is known: the managed server)."""
    bodies = [workload.body(f"{point.id}-{index}") for index in range(budget.requests or 0)]
    sampler = _server_sampler(server_pid)
    with sampler or contextlib.nullcontext():
        results, duration_s, saturation = asyncio.run(
            _drive(base_url, api_key, point, workload, bodies, budget, seed))
    records = [request_record(result, workload.prompt_tokens, workload.count_tokens) for result in results]
    peak_mb = sampler.peak_mb if sampler is not None and sampler.peak_mb else None
    return PointRun(point, records, point_metrics(records, duration_s, slo_ms), saturation, peak_mb)


def _server_sampler(pid: int | None):
    import psutil

    from pytest_mlxbench.system import RssSampler

    if pid is None:
        return None
    try:
        return RssSampler(interval_s=RSS_INTERVAL_S, process=psutil.Process(pid))
    except psutil.Error:
        return None


async def _drive(base_url, api_key, point, workload, bodies, budget, seed):
    async with StreamClient(base_url, api_key) as client:
        width = int(point.value) if point.mode == "concurrency" else 1
        await client.warm_up(min(width, WARM_CONNECTIONS_MAX))
        async with SaturationMeter() as meter:
            started = time.perf_counter()
            if point.mode == "concurrency":
                results = await _closed_loop(client, int(point.value), workload, bodies, budget, point)
            else:
                results = await _open_loop(client, point.value, workload, bodies, budget, seed, point)
            duration_s = time.perf_counter() - started
        return results, duration_s, meter.result(len(results))


async def _closed_loop(client: StreamClient, concurrency: int, workload: Workload, bodies: list[dict],
                       budget: Budget, point: LoadPoint) -> list[StreamResult]:
    results: list[StreamResult] = []
    deadline = time.perf_counter() + budget.duration_s if budget.duration_s else None
    counter = iter(range(10**9))

    async def worker() -> None:
        while True:
            index = next(counter)
            if deadline is None:
                if index >= len(bodies):
                    return
                body = bodies[index]
            else:
                if time.perf_counter() >= deadline:
                    return
                body = workload.body(f"{point.id}-{index}")
            results.append(await client.chat_stream(body))

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return results


async def _open_loop(client: StreamClient, rate: float, workload: Workload, bodies: list[dict], budget: Budget,
                     seed: int, point: LoadPoint) -> list[StreamResult]:
    count = len(bodies) if budget.requests else max(1, round(rate * budget.duration_s))
    bodies = bodies or [workload.body(f"{point.id}-{index}") for index in range(count)]
    arrivals = poisson_arrivals(rate, count, seed)
    loop = asyncio.get_running_loop()
    start = loop.time()
    tasks = []
    for body, offset in zip(bodies, arrivals):
        delay = start + offset - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(client.chat_stream(body)))
    return list(await asyncio.gather(*tasks))


def poisson_arrivals(rate: float, count: int, seed: int) -> list[float]:
    """Arrival offsets (s) of a Poisson process at ``rate``, rescaled so the last one falls at
    count/rate, as vLLM does to keep runs with different seeds comparable."""
    generator = random.Random(seed)
    offsets, now = [], 0.0
    for _ in range(count):
        now += generator.expovariate(rate)
        offsets.append(now)
    scale = (count / rate) / offsets[-1]
    return [offset * scale for offset in offsets]


class Sweep:
    """The points of one session against one endpoint; each point runs once, whichever of the
    suite's tests (throughput rows, latency rows) asks first."""

    def __init__(self, endpoint, settings, model_reference: str | None):
        from pytest_mlxbench.measure import local_model_dir

        self.endpoint = endpoint
        self.settings = settings
        self.workload = Workload(endpoint.model, settings.load_prompt_tokens, settings.load_output_tokens,
                                 settings.temperature, local_model_dir(endpoint, model_reference))
        requests = settings.load_requests or (None if settings.load_duration else DEFAULT_REQUESTS)
        self.budget = Budget(requests, settings.load_duration)
        self.runs: dict[str, PointRun] = {}

    def run(self, point: LoadPoint) -> tuple[PointRun, bool]:
        """The point's run, and whether it ran just now."""
        if point.id in self.runs:
            return self.runs[point.id], False
        server = self.endpoint.server
        self.runs[point.id] = run_point(self.endpoint.base_url, self.endpoint.api_key, point, self.workload,
                                        self.budget, self.settings.seed, self.settings.load_slo,
                                        server.process.pid if server is not None else None)
        return self.runs[point.id], True

    def context(self) -> dict[str, str]:
        """Tags that describe the run's set-up."""
        settings, server = self.settings, self.endpoint.server
        context = {
            "prompt_tokens": str(self.workload.prompt_tokens), "output_tokens": str(self.workload.output_tokens),
            "eos_suppression": self.workload.eos_suppression, **self.budget.tags(),
            "server": "managed mlx_lm.server" if server is not None else "external",
            "served_model": self.endpoint.model,  # the throughput envelope may hold in-process rows too
        }
        if server is not None:
            default = "mlx_lm.server default"
            context["server_decode_concurrency"] = str(settings.server_decode_concurrency or default)
            context["server_prompt_concurrency"] = str(settings.server_prompt_concurrency or default)
        return context
