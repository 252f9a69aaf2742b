"""Result rows built from sample logs: the pieces the suites' ``bench_summarize`` functions share."""

from __future__ import annotations

from pytest_mlxbench.measure import percentile, request_tags

DECODE_METHOD = "sum of usage completion_tokens / sum of request latency (non-streamed; includes prefill)"


def result_row(name: str, metric: str, value: float, unit: str, tags: dict, **fields) -> dict:
    """One envelope result row; tag values become strings, as the schema wants."""
    return {"name": name, "metric": metric, "value": value, "unit": unit, **fields,
            "tags": {key: str(tag) for key, tag in tags.items()}}


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def decode_rows(samples: list[dict], tags: dict) -> list[dict]:
    """A decode-rate row from the samples whose server reported usage (none when no sample did)."""
    reported = [(tokens, sample["latency_s"]) for sample in samples
                if isinstance(tokens := (sample.get("usage") or {}).get("completion_tokens"), int)
                and is_number(sample.get("latency_s"))]
    total_seconds = sum(seconds for _, seconds in reported)
    if not reported or total_seconds <= 0:
        return []
    rate = sum(tokens for tokens, _ in reported) / total_seconds
    row_tags = {**tags, "method": DECODE_METHOD, "requests_with_usage": len(reported),
                "completion_tokens": sum(tokens for tokens, _ in reported)}
    return [result_row("decode", "decode_throughput", rate, "tok/s", row_tags,
                       decode_tokens_per_second=rate, duration_seconds=total_seconds)]


def latency_rows(samples: list[dict], percentiles: tuple[int, ...], tags: dict, *, mean: bool = False) -> list[dict]:
    """``latency_p<q>`` rows (and ``latency_mean``) of the samples' request latencies (``latency_s``)
    in seconds; each row carries the requests it was computed from, so the gate can compare their
    distributions (their spread within one run is no measure of run-to-run noise)."""
    latencies = [sample["latency_s"] for sample in samples if is_number(sample.get("latency_s"))]
    if not latencies:
        return []
    statistics = [(f"p{q}", percentile(latencies, q)) for q in percentiles]
    if mean:
        statistics.append(("mean", sum(latencies) / len(latencies)))
    row_tags = {**tags, "requests": str(len(latencies))}
    return [result_row(f"latency_{statistic}", "latency", value, "seconds",
                       {**row_tags, **request_tags(latencies, statistic)}, duration_seconds=value)
            for statistic, value in statistics]


def printable(text: str) -> str:
    """Model-made text for the terminal: control characters (escape sequences) escaped."""
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def failed_request_sample(sample: dict, record_sample):
    """``on_failure`` for ``pytest_mlxbench.ask``: a failed request leaves its case in the sample
    log with no reply and the reason, so the summary counts it as a harness error."""
    def record(reason: str) -> None:
        record_sample({**sample, "reply": None, "verdict": None, "error": reason, "latency_s": None, "usage": None})

    return record
