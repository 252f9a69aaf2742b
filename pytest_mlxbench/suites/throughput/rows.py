"""Result rows of the throughput suite from its timed repeats (pure: no model, no clock).

Each row is taken from its measure's median repeat: a rate divides its tokens (the ``tokens``
tag) by its own time, and that time is the row's ``duration_seconds`` (prefill time for prefill,
decode time for decode, the whole generation for total), as the schema defines the rates, so
every rate can be recomputed from its row. The whole generation of that repeat is the
``run_seconds`` tag; min, max, count and values of all repeats are the spread tags.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pytest_mlxbench.backends.mlx_backend import TimedGeneration
from pytest_mlxbench.measure import spread_tags
from pytest_mlxbench.suites.rows import result_row

Repeat = tuple[TimedGeneration, float]  # a timed generation and the peak RSS (MB) sampled during it


@dataclass(frozen=True)
class Measure:
    name: str
    metric: str
    unit: str
    field: str
    value: Callable[[TimedGeneration, float], float]
    seconds: Callable[[TimedGeneration], float]  # what the rate divides by / the row's duration
    tokens: Callable[[TimedGeneration], int] | None = None
    higher_is_better: bool = True


MEASURES = (
    Measure("prefill", "prefill_throughput", "tok/s", "prompt_tokens_per_second",
            lambda timing, _: timing.prefill_tokens_per_second, lambda timing: timing.prefill_s,
            lambda timing: timing.prompt_tokens),
    Measure("decode", "decode_throughput", "tok/s", "decode_tokens_per_second",
            lambda timing, _: timing.decode_tokens_per_second, lambda timing: timing.decode_s,
            lambda timing: timing.decode_tokens),
    Measure("total", "total_throughput", "tok/s", "total_tokens_per_second",
            lambda timing, _: timing.total_tokens_per_second, lambda timing: timing.total_s,
            lambda timing: timing.prompt_tokens + timing.generated_tokens),
    Measure("ttft", "ttft", "ms", "first_token_latency_ms", lambda timing, _: timing.first_token_s * 1000,
            lambda timing: timing.first_token_s, higher_is_better=False),
    Measure("peak_rss", "memory", "MB", "peak_rss_mb", lambda _, peak: peak, lambda timing: timing.total_s,
            higher_is_better=False),
)  # fmt: skip


def throughput_rows(length: int, gen_tokens: int, repeats: Sequence[Repeat]) -> list[dict]:
    """One row per measure for one prompt length (see the module docstring)."""
    common = {"prompt_tokens": length, "gen_tokens": gen_tokens, "ignore_eos": "true"}
    rows = []
    for measure in MEASURES:
        timing, peak = median_repeat(repeats, lambda repeat: measure.value(*repeat), measure.higher_is_better)
        value = measure.value(timing, peak)
        tags = {**common, "run_seconds": repr(timing.total_s),
                **spread_tags([measure.value(*repeat) for repeat in repeats])}
        if measure.tokens is not None:
            tags["tokens"] = measure.tokens(timing)
        if measure.name == "peak_rss":
            tags["mlx_peak_memory_mb"] = f"{max(timing.mlx_peak_memory_mb for timing, _ in repeats):.1f}"
        rows.append(result_row(f"{measure.name}_{length}", measure.metric, value, measure.unit, tags,
                               duration_seconds=measure.seconds(timing), **{measure.field: value}))
    return rows


def median_repeat(repeats: Sequence[Repeat], key: Callable[[Repeat], float], higher_is_better: bool) -> Repeat:
    """The repeat whose ``key`` is the median; of an even number, the worse of the two middle ones."""
    ordered = sorted(repeats, key=key)
    middle = len(ordered) // 2
    return ordered[middle - 1 if len(ordered) % 2 == 0 and higher_is_better else middle]
