"""Throughput suite: prefill, decode and total tok/s, TTFT and peak memory, in process through
mlx-lm, for several prompt lengths and a fixed generation length.

Each prompt length runs one discarded warm-up, then N measured repeats (pytest-benchmark's
pedantic rounds); every repeat gets a prompt that differs from its first token, so no prefix
cache can help. Rows: ``pytest_mlxbench.suites.throughput.rows`` (each row its median repeat,
its rate recomputable from its own duration, all repeats in tags).
"""

import itertools

import pytest_mlxbench
from pytest_mlxbench.backends.models import context_length
from pytest_mlxbench.suites.throughput.rows import throughput_rows
from pytest_mlxbench.system import RssSampler

pytestmark = pytest_mlxbench.suite("throughput")


def pytest_generate_tests(metafunc):
    if "prompt_length" in metafunc.fixturenames:
        lengths = pytest_mlxbench.get_settings(metafunc.config).prompt_lengths
        metafunc.parametrize("prompt_length", lengths, ids=[f"prompt{length}" for length in lengths])


def fitted_length(requested: int, gen_tokens: int, context: int | None) -> int:
    """The prompt length that leaves room for the generation in the model's context."""
    if context is None or requested + gen_tokens <= context:
        return requested
    return max(1, context - gen_tokens)


def test_throughput(prompt_length, mlx_model, mlxbench_settings, benchmark, record_metric, record_note,
                    record_gen_kwargs):
    from pytest_mlxbench.backends.mlx_backend import timed_generation, unique_prompt

    settings = mlxbench_settings
    gen_tokens = settings.gen_tokens
    length = fitted_length(prompt_length, gen_tokens, context_length(mlx_model.path))
    if length != prompt_length:
        record_note(f"prompt length {prompt_length} clipped to {length}: the model's context is "
                    f"{length + gen_tokens} tokens and {gen_tokens} are generated")
    record_gen_kwargs(max_gen_toks=gen_tokens, temperature=0.0)

    salts = itertools.count(settings.seed * 1_000_003 + prompt_length * 1009)
    runs = []

    def fresh_prompt():
        return (unique_prompt(mlx_model.tokenizer, length, salt=next(salts)),), {}

    def generate(prompt):
        with RssSampler() as rss:
            timing = timed_generation(mlx_model, prompt, gen_tokens)
        runs.append((timing, rss.peak_mb))

    if benchmark.disabled:  # e.g. under pytest-xdist, which pytest-benchmark refuses: the same runs, by hand
        for _ in range(1 + settings.repeats):
            args, _ = fresh_prompt()
            generate(*args)
    else:
        benchmark.pedantic(generate, setup=fresh_prompt, rounds=settings.repeats, warmup_rounds=1, iterations=1)
    measured = runs[1:]  # the first run was the warm-up
    for row in throughput_rows(length, gen_tokens, measured):
        record_metric(**row)
