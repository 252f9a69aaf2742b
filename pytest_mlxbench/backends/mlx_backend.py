"""In-process generation through mlx-lm (imported lazily: collecting tests must not load mlx)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BenchInputError


@dataclass
class LoadedModel:
    model: Any
    tokenizer: Any
    path: Path
    load_seconds: float


@dataclass(frozen=True)
class TimedGeneration:
    """One generation, timed from the call to the first token and to the last.

    Each rate divides by its own time, which is also what the row reports as its duration:
    prefill divides the prompt tokens by ``prefill_s`` (call to first token, as mlx-lm's
    ``prompt_tps``), decode the tokens after the first by ``decode_s`` (first token to last), total
    all tokens by ``total_s`` (call to last token).
    """

    prompt_tokens: int
    generated_tokens: int
    first_token_s: float
    total_s: float
    mlx_peak_memory_mb: float

    @property
    def prefill_s(self) -> float:
        return self.first_token_s

    @property
    def decode_s(self) -> float:
        return self.total_s - self.first_token_s

    @property
    def decode_tokens(self) -> int:
        """The tokens decode counts: every one after the first, which belongs to prefill."""
        return max(self.generated_tokens - 1, 0)

    @property
    def prefill_tokens_per_second(self) -> float:
        return self.prompt_tokens / self.prefill_s

    @property
    def decode_tokens_per_second(self) -> float:
        """(generated − 1) tokens over the time after the first token."""
        return self.decode_tokens / self.decode_s if self.decode_tokens and self.decode_s > 0 else 0.0

    @property
    def total_tokens_per_second(self) -> float:
        return (self.prompt_tokens + self.generated_tokens) / self.total_s


def load_model(path: Path) -> LoadedModel:
    from mlx_lm import load

    started = time.perf_counter()
    try:
        model, tokenizer = load(str(path))
    except (FileNotFoundError, ValueError) as error:
        raise BenchInputError(f"mlx-lm cannot load the model at {path}: {error}") from None
    return LoadedModel(model, tokenizer, path, time.perf_counter() - started)


def release_model(loaded: LoadedModel) -> None:
    """Drop the model's weights and return MLX's cached buffers, so the next model loads into
    free memory (pytest keeps the fixture's value until the end of its teardown: emptied here)."""
    import gc

    import mlx.core as mx

    loaded.model = loaded.tokenizer = None
    gc.collect()
    mx.clear_cache()


def seed_everything(seed: int) -> None:
    import mlx.core as mx

    mx.random.seed(seed)


def special_token_ids(tokenizer) -> set[int]:
    ids = set(getattr(tokenizer, "all_special_ids", []) or [])
    return ids | set(getattr(tokenizer, "eos_token_ids", []) or [])


def unique_prompt(tokenizer, length: int, salt: int) -> list[int]:
    """``length`` ordinary token ids drawn from a seeded generator: each salt gives a different
    prompt from its first token, so no prefix cache can serve one repeat from another."""
    import random

    vocabulary = len(tokenizer.get_vocab()) if hasattr(tokenizer, "get_vocab") else tokenizer.vocab_size
    special = special_token_ids(tokenizer)
    ordinary = [token for token in range(vocabulary) if token not in special]
    generator = random.Random(salt)
    return [generator.choice(ordinary) for _ in range(length)]


def timed_generation(loaded: LoadedModel, prompt: list[int], max_tokens: int) -> TimedGeneration:
    """Generate exactly ``max_tokens`` tokens (end-of-sequence is suppressed, like llama-bench does)
    and time the first token and the last with mlx-lm's ``stream_generate``."""
    import mlx.core as mx
    from mlx_lm import stream_generate

    suppress_eos = _eos_suppressor(getattr(loaded.tokenizer, "eos_token_ids", None) or [])
    mx.reset_peak_memory()
    responses = stream_generate(loaded.model, loaded.tokenizer, prompt, max_tokens=max_tokens,
                                logits_processors=[suppress_eos])
    first_token_s, last_token_s, generated = time_tokens(responses)
    return TimedGeneration(
        prompt_tokens=len(prompt),
        generated_tokens=generated,
        first_token_s=first_token_s,
        total_s=last_token_s,
        mlx_peak_memory_mb=mx.get_peak_memory() / 1024**2,
    )


def time_tokens(responses: Iterable, clock: Callable[[], float] = time.perf_counter) -> tuple[float, float, int]:
    """(first token, last token, tokens generated) of a stream of mlx-lm responses, in seconds
    from the first request for a token.

    The last token's time is taken when it arrives, not when the loop ends: on Apple Silicon,
    mlx-lm synchronises the device when its generator closes (``wired_limit`` waits for the step
    it already queued after the last token), and that cleanup, about 0.8% of a 128-token run on
    Metal, is no part of decoding.
    """
    started = clock()
    first_at = last_at = None
    generated = 0
    for response in responses:
        last_at = clock()
        if first_at is None:
            first_at = last_at
        generated = response.generation_tokens
    if last_at is None:  # nothing generated: the whole wait is the (failed) prefill
        last_at = first_at = clock()
    return first_at - started, last_at - started, generated


def _eos_suppressor(eos_ids):
    """A logits processor that makes end-of-sequence tokens impossible."""
    import mlx.core as mx

    mask = None

    def suppress(tokens, logits):
        nonlocal mask
        if mask is None:
            bias = [0.0] * logits.shape[-1]
            for token in eos_ids:
                if token < len(bias):
                    bias[token] = -float("inf")
            mask = mx.array(bias, dtype=logits.dtype)
        return logits + mask

    return suppress
