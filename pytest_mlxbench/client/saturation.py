"""Is the client measuring the server, or itself? Its own CPU time and its event loop's lag.

A client whose process is near a full core, or whose event loop answers late, stamps chunks
late: the numbers then describe the client. The lag probe is a timer due every ``interval_s``
that then asks for a callback "as soon as possible"; the lag is from when the timer was due to
when that callback ran — the wait any chunk arriving then would have had (it includes the event
loop's timer granularity, up to 1 ms where the selector counts in milliseconds).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

LAG_LIMIT_MS = 3.0  # the timing error allowed at concurrency 32 (2 ms), plus the probe timer's 1 ms
CPU_LIMIT = 0.9  # share of one core


@dataclass(frozen=True)
class Saturation:
    cpu_seconds: float
    wall_seconds: float
    requests: int
    lag_ms: tuple[float, ...]

    @property
    def cpu_share(self) -> float:
        return self.cpu_seconds / self.wall_seconds if self.wall_seconds > 0 else 0.0

    @property
    def cpu_ms_per_request(self) -> float | None:
        return self.cpu_seconds * 1000 / self.requests if self.requests else None

    def lag_percentile(self, q: float) -> float:
        from ..measure import percentile

        return percentile(list(self.lag_ms), q) if self.lag_ms else 0.0

    @property
    def reasons(self) -> list[str]:
        reasons = []
        if self.cpu_share >= CPU_LIMIT:
            reasons.append(f"client CPU {self.cpu_share:.0%} of a core (limit {CPU_LIMIT:.0%})")
        if self.lag_percentile(99) > LAG_LIMIT_MS:
            reasons.append(f"event-loop lag p99 {self.lag_percentile(99):.2f} ms (limit {LAG_LIMIT_MS} ms)")
        return reasons

    @property
    def saturated(self) -> bool:
        return bool(self.reasons)

    def tags(self) -> dict[str, str]:
        per_request = self.cpu_ms_per_request
        return {
            "client_cpu_ms_per_request": f"{per_request:.3f}" if per_request is not None else "n/a",
            "client_cpu_share": f"{self.cpu_share:.3f}",
            "client_loop_lag_p99_ms": f"{self.lag_percentile(99):.3f}",
            "client_loop_lag_max_ms": f"{max(self.lag_ms, default=0.0):.3f}",
            "client_saturated": "true" if self.saturated else "false",
        }


class SaturationMeter:
    """``async with SaturationMeter() as meter: ...`` then ``meter.result(requests)``."""

    def __init__(self, interval_s: float = 0.01):
        self.interval_s = interval_s
        self._lags: list[float] = []
        self._handle: asyncio.Handle | None = None

    async def __aenter__(self) -> SaturationMeter:
        self._loop = asyncio.get_running_loop()
        self._cpu0, self._wall0 = time.process_time(), time.perf_counter()
        self._schedule()
        return self

    async def __aexit__(self, *exc_info) -> None:
        self._cpu1, self._wall1 = time.process_time(), time.perf_counter()
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _schedule(self) -> None:
        due = self._loop.time() + self.interval_s
        self._handle = self._loop.call_at(due, self._ping, due)

    def _ping(self, due: float) -> None:
        self._handle = self._loop.call_soon(self._answer, due)

    def _answer(self, due: float) -> None:
        self._lags.append((self._loop.time() - due) * 1000)
        self._schedule()

    def result(self, requests: int) -> Saturation:
        return Saturation(self._cpu1 - self._cpu0, self._wall1 - self._wall0, requests, tuple(self._lags))
