"""Throughput timing against a controlled clock, and its rows as the schema defines them: every
rate is its tokens divided by the row's own ``duration_seconds``."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from pytest_mlxbench.backends.mlx_backend import TimedGeneration, time_tokens
from pytest_mlxbench.envelope import check_result_row
from pytest_mlxbench.suites.throughput.rows import median_repeat, throughput_rows

RATE_FIELDS = ("prompt_tokens_per_second", "decode_tokens_per_second", "total_tokens_per_second")


class ControlledClock:
    """A clock that moves only when the stream below says time passes."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def stream_with_known_delays(clock: ControlledClock, prefill_s: float, per_token_s: float, tokens: int,
                             cleanup_s: float):
    """Stands in for mlx-lm's ``stream_generate`` with exact delays: the first token after
    ``prefill_s``, each later one ``per_token_s`` apart, then a cleanup of ``cleanup_s`` when the
    generator closes (on Metal, ``wired_limit`` synchronising the device)."""
    try:
        for index in range(tokens):
            clock.now += prefill_s if index == 0 else per_token_s
            yield SimpleNamespace(generation_tokens=index + 1)
    finally:
        clock.now += cleanup_s


@pytest.mark.parametrize(("prefill_s", "per_token_s", "tokens"), [(0.25, 0.01, 128), (1.5, 0.2, 2), (0.003, 0.0001, 513)])
def test_first_and_last_token_times_are_exact_and_exclude_the_generator_cleanup(prefill_s, per_token_s, tokens):
    clock = ControlledClock()
    first_s, last_s, generated = time_tokens(stream_with_known_delays(clock, prefill_s, per_token_s, tokens, 5.0),
                                             clock)
    true_last_s = prefill_s + (tokens - 1) * per_token_s
    assert generated == tokens
    assert first_s == pytest.approx(prefill_s, abs=1e-9)
    assert last_s == pytest.approx(true_last_s, abs=1e-9)  # measured - true = 0: the 5 s cleanup is not decode time
    timing = TimedGeneration(prompt_tokens=512, generated_tokens=generated, first_token_s=first_s, total_s=last_s,
                             mlx_peak_memory_mb=1.0)
    assert timing.decode_tokens_per_second == pytest.approx(1 / per_token_s, rel=1e-9)
    assert timing.prefill_tokens_per_second == pytest.approx(512 / prefill_s, rel=1e-9)


def test_a_stream_without_tokens_times_the_wait_as_prefill():
    clock = ControlledClock()
    assert time_tokens(stream_with_known_delays(clock, 0.5, 0.1, 0, cleanup_s=2.0), clock) == (2.0, 2.0, 0)


def test_timed_generation_on_the_builtin_model_generates_exactly_max_tokens(tiny_model_dir):
    from pytest_mlxbench.backends.mlx_backend import (
        load_model,
        timed_generation,
        unique_prompt,
    )

    loaded = load_model(tiny_model_dir)
    timing = timed_generation(loaded, unique_prompt(loaded.tokenizer, 24, salt=1), max_tokens=9)
    assert (timing.prompt_tokens, timing.generated_tokens, timing.decode_tokens) == (24, 9, 8)
    assert 0 < timing.first_token_s < timing.total_s
    assert timing.decode_tokens_per_second == pytest.approx(8 / (timing.total_s - timing.first_token_s))


def repeat(first_token_s: float, total_s: float, peak_mb: float = 300.0, generated: int = 128) -> tuple:
    return TimedGeneration(prompt_tokens=512, generated_tokens=generated, first_token_s=first_token_s,
                           total_s=total_s, mlx_peak_memory_mb=peak_mb - 100), peak_mb


def test_every_rate_is_recomputable_from_its_own_row():
    repeats = [repeat(0.10, 1.40), repeat(0.12, 1.30, 310.0), repeat(0.09, 1.55, 305.0)]
    rows = {row["name"]: row for row in throughput_rows(512, 128, repeats)}
    for row in rows.values():
        check_result_row(row)
        for field in RATE_FIELDS:
            if field in row:
                assert row[field] == row["value"]
                assert int(row["tags"]["tokens"]) / row["duration_seconds"] == pytest.approx(row[field], rel=1e-12)
    # the median repeat of each measure, with its own time
    assert rows["prefill_512"]["duration_seconds"] == 0.10 and rows["prefill_512"]["value"] == 5120.0
    assert rows["decode_512"]["duration_seconds"] == pytest.approx(1.30) and rows["decode_512"]["tags"]["tokens"] == "127"
    assert rows["decode_512"]["tags"]["run_seconds"] == repr(1.40)  # the whole generation of that repeat
    assert rows["total_512"]["duration_seconds"] == 1.40 and rows["total_512"]["tags"]["tokens"] == "640"
    assert rows["ttft_512"]["value"] == pytest.approx(100.0) and rows["ttft_512"]["duration_seconds"] == 0.10
    assert rows["peak_rss_512"]["value"] == 305.0 and rows["peak_rss_512"]["tags"]["mlx_peak_memory_mb"] == "210.0"
    assert rows["decode_512"]["tags"]["repeats"] == "3" and len(rows["decode_512"]["tags"]["samples"].split(",")) == 3


def test_of_an_even_number_of_repeats_the_worse_middle_one_is_the_row():
    repeats = [repeat(0.10, 1.0), repeat(0.20, 2.0), repeat(0.30, 3.0), repeat(0.40, 4.0)]
    rows = {row["name"]: row for row in throughput_rows(512, 128, repeats)}
    assert rows["prefill_512"]["duration_seconds"] == 0.30  # 1707 tok/s, not 2560: the slower middle repeat
    assert rows["ttft_512"]["duration_seconds"] == 0.30  # lower is better: the higher of the middle two
    assert median_repeat([1, 2, 3], lambda value: value, higher_is_better=True) == 2
