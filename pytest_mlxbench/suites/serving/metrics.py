"""The metrics of one load point, with vLLM ``bench serve``'s definitions (``calculate_metrics``).

Per request (times from sending the request, which includes taking a connection):
- TTFT: to the first chunk carrying generated content (vLLM takes the first chunk with choices;
  the two agree for servers that send no role-only chunk first, as ``mlx_lm.server``).
- E2EL: to the last chunk with choices (a usage-only chunk or ``[DONE]`` does not count).
- TPOT: (E2EL − TTFT) / (output tokens − 1), for requests with more than one output token.
- ITL: every gap between consecutive content chunks; a chunk carrying k tokens counts as k gaps
  of gap/k, and the first chunk's extra tokens as gaps of 0 (so the ITLs of a request sum to
  E2EL − TTFT, and there are output tokens − 1 of them). Tokens per chunk come from the server's
  usage when it equals the chunk count, else from the model's tokenizer; without either every
  chunk counts as one token (vLLM's rule for chat streams).
- output tokens: the server's usage, else the tokenizer on the text, else the content chunks.
- input tokens: the server's usage, else the requested prompt length.

Per point, over the completed requests (failed and truncated ones are counted, never measured):
request throughput = completed / duration; output throughput = Σ output tokens / duration; total
token throughput = Σ (input + output) tokens / duration; goodput = requests meeting every SLO /
duration (a request with one output token has TPOT 0 there, as in vLLM). Duration runs from the
first request sent to the last one finished. Distributions: mean, median, p90, p99 (linear
interpolation, numpy's default).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field

from pytest_mlxbench.client import StreamResult
from pytest_mlxbench.measure import completion_tokens, percentile

STATISTICS = ("mean", "median", "p90", "p99")


@dataclass(frozen=True)
class RequestRecord:
    outcome: str  # ok, failed, truncated
    started: float
    ttft_s: float | None = None
    e2el_s: float | None = None
    output_tokens: int = 0
    input_tokens: int = 0
    itl_s: tuple[float, ...] = ()
    token_source: str = ""
    finish_reason: str | None = None
    error: str | None = None

    @property
    def tpot_s(self) -> float | None:
        if self.output_tokens <= 1 or self.ttft_s is None or self.e2el_s is None:
            return None
        return (self.e2el_s - self.ttft_s) / (self.output_tokens - 1)


def request_record(result: StreamResult, requested_prompt_tokens: int,
                   count_tokens: Callable[[str], int] | None) -> RequestRecord:
    outcome = result.outcome
    if outcome != "ok":
        error = result.error or ("the stream ended before its finish" if outcome == "truncated"
                                 else "no generated content in the reply")
        return RequestRecord(outcome, result.started, error=error)
    output, source = completion_tokens(result, count_tokens)
    return RequestRecord(
        "ok", result.started, ttft_s=result.ttft_s, e2el_s=result.e2el_s, output_tokens=output,
        input_tokens=result.prompt_tokens if result.prompt_tokens is not None else requested_prompt_tokens,
        itl_s=inter_token_latencies(result.chunk_times, chunk_tokens(result, count_tokens)), token_source=source,
        finish_reason=result.finish_reason,
    )


def chunk_tokens(result: StreamResult, count_tokens: Callable[[str], int] | None) -> list[int]:
    """Tokens carried by each content chunk: one each when the server's usage says so or nothing
    else can tell, else the tokenizer's count of the chunk's text."""
    chunks = len(result.chunk_times)
    if result.completion_tokens == chunks or count_tokens is None:
        return [1] * chunks
    return [max(1, count_tokens(text)) for text in result.chunk_texts]


def inter_token_latencies(times: list[float], tokens: list[int]) -> tuple[float, ...]:
    if not times:
        return ()
    gaps = [0.0] * (tokens[0] - 1)
    for previous, now, count in zip(times, times[1:], tokens[1:]):
        gaps.extend([(now - previous) / count] * count)
    return tuple(gaps)


@dataclass(frozen=True)
class PointMetrics:
    requests: int
    completed: int
    failed: int
    truncated: int
    duration_s: float
    total_input: int
    total_output: int
    good: int | None  # requests meeting every SLO (None without SLOs)
    distributions_ms: dict[str, list[float]] = field(default_factory=dict)  # ttft, tpot, itl, e2el
    token_sources: tuple[str, ...] = ()
    early_stops: int = 0  # completed with finish_reason "stop" (the model ended before the requested length)

    @property
    def request_throughput(self) -> float:
        return self.completed / self.duration_s

    @property
    def output_throughput(self) -> float:
        return self.total_output / self.duration_s

    @property
    def total_token_throughput(self) -> float:
        return (self.total_input + self.total_output) / self.duration_s

    @property
    def goodput(self) -> float | None:
        return None if self.good is None else self.good / self.duration_s

    def statistic(self, metric: str, name: str) -> float | None:
        values = self.distributions_ms.get(metric) or []
        if not values:
            return None
        if name == "mean":
            return statistics.fmean(values)
        return percentile(values, 50 if name == "median" else float(name[1:]))


def point_metrics(records: list[RequestRecord], duration_s: float, slo_ms: dict[str, float] | None) -> PointMetrics:
    done = [record for record in records if record.outcome == "ok"]
    distributions = {
        "ttft": [record.ttft_s * 1000 for record in done],
        "tpot": [record.tpot_s * 1000 for record in done if record.tpot_s is not None],
        "itl": [gap * 1000 for record in done for gap in record.itl_s],
        "e2el": [record.e2el_s * 1000 for record in done],
    }
    good = None
    if slo_ms:
        good = sum(1 for record in done if meets_slo(record, slo_ms))
    return PointMetrics(
        requests=len(records), completed=len(done),
        failed=sum(record.outcome == "failed" for record in records),
        truncated=sum(record.outcome == "truncated" for record in records),
        duration_s=duration_s,
        total_input=sum(record.input_tokens for record in done),
        total_output=sum(record.output_tokens for record in done),
        good=good, distributions_ms=distributions,
        token_sources=tuple(sorted({record.token_source for record in done})),
        early_stops=sum(record.finish_reason == "stop" for record in done),
    )


def meets_slo(record: RequestRecord, slo_ms: dict[str, float]) -> bool:
    observed = {"ttft": record.ttft_s * 1000, "tpot": (record.tpot_s or 0.0) * 1000, "e2el": record.e2el_s * 1000}
    return all(observed[name] <= limit for name, limit in slo_ms.items())
