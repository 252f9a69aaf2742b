"""The rows of a load point: throughput rows for the ``throughput`` suite (``mode=server`` tags)
and latency distributions for the ``ttft`` suite; plus the notes a point leaves (failures,
a saturated client)."""

from __future__ import annotations

from pytest_mlxbench.measure import request_tags
from pytest_mlxbench.suites.rows import result_row
from pytest_mlxbench.suites.serving.loadgen import PointRun
from pytest_mlxbench.suites.serving.metrics import STATISTICS

LATENCY_METRICS = ("ttft", "tpot", "itl", "e2el")


def point_tags(run: PointRun, context: dict[str, str]) -> dict[str, str]:
    metrics = run.metrics
    tags = {
        **run.point.tags(), **context,
        "requests": metrics.requests, "completed": metrics.completed, "failed": metrics.failed,
        "truncated": metrics.truncated, "early_stops": metrics.early_stops,
        "token_count_source": ",".join(metrics.token_sources) or "none",
        **run.saturation.tags(),
    }
    if metrics.completed:
        tags["input_tokens_mean"] = f"{metrics.total_input / metrics.completed:.1f}"
        tags["output_tokens_mean"] = f"{metrics.total_output / metrics.completed:.1f}"
    for metric in ("ttft", "tpot"):
        median = metrics.statistic(metric, "median")
        if median is not None:
            tags[f"{metric}_median_ms"] = f"{median:.3f}"
    return {key: str(value) for key, value in tags.items()}


def throughput_rows(run: PointRun, context: dict[str, str], slo_ms: dict[str, float] | None) -> list[dict]:
    metrics, point = run.metrics, run.point.id
    tags = point_tags(run, context)
    duration = {"duration_seconds": metrics.duration_s}
    rows = [
        result_row(f"request_throughput_{point}", "request_throughput", metrics.request_throughput, "req/s", tags,
                   **duration),
        result_row(f"output_throughput_{point}", "output_throughput", metrics.output_throughput, "tok/s", tags,
                   decode_tokens_per_second=metrics.output_throughput, **duration),
        result_row(f"total_throughput_{point}", "total_throughput", metrics.total_token_throughput, "tok/s", tags,
                   total_tokens_per_second=metrics.total_token_throughput,
                   prompt_tokens_per_second=metrics.total_input / metrics.duration_s, **duration),
        result_row(f"failed_requests_{point}", "failed_requests", metrics.failed, "count", tags),
        result_row(f"truncated_requests_{point}", "truncated_requests", metrics.truncated, "count", tags),
    ]
    if slo_ms:
        slo = ",".join(f"{name}={limit:g}" for name, limit in slo_ms.items())
        rows.append(result_row(f"goodput_{point}", "goodput", metrics.goodput, "req/s",
                               {**tags, "slo_ms": slo, "good_requests": metrics.good}, **duration))
    if run.server_peak_rss_mb is not None:
        rows.append(result_row(f"server_peak_rss_{point}", "memory", run.server_peak_rss_mb, "MB", tags,
                               peak_rss_mb=run.server_peak_rss_mb))
    return rows


def latency_rows(run: PointRun, context: dict[str, str]) -> list[dict]:
    """Each statistic of TTFT, TPOT, ITL and E2EL; the per-request ones (all but ITL, whose values
    are gaps between tokens) carry their requests, the gate's evidence of their spread."""
    tags = point_tags(run, context)
    rows = []
    for metric in LATENCY_METRICS:
        values = run.metrics.distributions_ms[metric]
        for name in STATISTICS:
            value = run.metrics.statistic(metric, name)
            if value is None:
                continue
            fields = {"first_token_latency_ms": value} if metric == "ttft" else {}
            evidence = request_tags(values, "p50" if name == "median" else name) if metric != "itl" else {}
            rows.append(result_row(f"{metric}_{name}_{run.point.id}", metric, value, "ms",
                                   {**tags, "values": len(values), **evidence}, **fields))
    return rows


def point_notes(run: PointRun) -> list[str]:
    """Warnings for the envelope: failed or truncated requests (with the first error), a
    saturated client."""
    metrics, notes = run.metrics, []
    lost = metrics.failed + metrics.truncated
    if lost:
        first_error = next(record.error for record in run.records if record.outcome != "ok")
        notes.append(f"point {run.point.id}: {metrics.failed} failed and {metrics.truncated} truncated of "
                     f"{metrics.requests} requests (counted, not measured); first: {first_error}")
    if run.saturation.saturated:
        notes.append(f"point {run.point.id}: client_saturated — {'; '.join(run.saturation.reasons)}: the numbers "
                     "may describe the client rather than the server")
    return notes
