"""Timing of streamed chat completions (TTFT, decode rate) and the statistics reported on them."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation between closest ranks (numpy's default)."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    position = (len(ordered) - 1) * q / 100
    lower = int(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def spread_tags(values: list[float]) -> dict[str, str]:
    """min, max, count and the values of repeated measurements (whole runs of the same thing), as
    envelope tags (strings), so a later comparison can tell a change from run-to-run noise."""
    return {
        "min": repr(float(min(values))),  # repr round-trips exactly: the tags bound the value
        "max": repr(float(max(values))),
        "repeats": str(len(values)),
        "samples": ",".join(repr(float(value)) for value in values),
    }


def request_tags(values: list[float], statistic: str) -> dict[str, str]:
    """The individual requests of one run behind a statistic of them (``p50``, ``p90``, ``mean``),
    as envelope tags, so the gate compares request distributions (the tail beyond a percentile for
    p90 or p99) rather than mistaking the spread of requests for run-to-run noise."""
    return {
        "min": f"{min(values):.6g}",
        "max": f"{max(values):.6g}",
        "request_statistic": statistic,
        "request_samples": ",".join(f"{value:.6g}" for value in values),
    }


def median(values: list[float]) -> float:
    return statistics.median(values)


@dataclass(frozen=True)
class StreamTiming:
    ttft_s: float | None
    total_s: float
    text: str
    completion_tokens: int | None  # as the server reported it in usage, if it did
    prompt_tokens: int | None
    content_chunks: int

    def decode_tokens_per_second(self, tokens: int) -> float | None:
        """(tokens − 1) over the time after the first content chunk."""
        if self.ttft_s is None or tokens < 2 or self.total_s <= self.ttft_s:
            return None
        return (tokens - 1) / (self.total_s - self.ttft_s)


def _delta_has_content(delta) -> bool:
    """Generated content: text, reasoning text or a tool-call fragment; a role-only chunk is not."""
    if delta is None:
        return False
    if getattr(delta, "content", None) or getattr(delta, "tool_calls", None):
        return True
    extra = getattr(delta, "model_extra", None) or {}
    return bool(extra.get("reasoning_content") or extra.get("reasoning"))


def timed_stream(client, **request) -> StreamTiming:
    """Send one streaming chat completion and time it from sending to the first chunk that carries
    generated content, and to the end of the stream."""
    started = time.perf_counter()
    stream = client.chat.completions.create(stream=True, stream_options={"include_usage": True}, **request)
    first_content_at = None
    pieces: list[str] = []
    usage = None
    chunks = 0
    for chunk in stream:
        if getattr(chunk, "usage", None):
            usage = chunk.usage
        for choice in chunk.choices or []:
            if _delta_has_content(choice.delta):
                chunks += 1
                if first_content_at is None:
                    first_content_at = time.perf_counter()
                pieces.append(choice.delta.content or "")
    finished = time.perf_counter()
    return StreamTiming(
        ttft_s=None if first_content_at is None else first_content_at - started,
        total_s=finished - started,
        text="".join(pieces),
        completion_tokens=getattr(usage, "completion_tokens", None),
        prompt_tokens=getattr(usage, "prompt_tokens", None),
        content_chunks=chunks,
    )


def token_counter(model_dir: Path | None) -> Callable[[str], int] | None:
    """Counts tokens with the model's own tokenizer, when its tokenizer.json is at hand."""
    if model_dir is None or not (model_dir / "tokenizer.json").is_file():
        return None
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    return lambda text: len(tokenizer.encode(text, add_special_tokens=False).ids)


def completion_tokens(timing: StreamTiming, count_tokens: Callable[[str], int] | None) -> tuple[int, str]:
    """Generated tokens and where the number came from: the server's usage, else the tokenizer,
    else the count of content chunks (most servers send one token per chunk)."""
    if timing.completion_tokens is not None:
        return timing.completion_tokens, "server_usage"
    if count_tokens is not None:
        return count_tokens(timing.text), "tokenizer"
    return timing.content_chunks, "stream_chunks"


def local_model_dir(endpoint, settings) -> Path | None:
    """The served model's local directory, for its tokenizer: the managed server's model, or
    ``--mlx-model`` when it names a directory (an external server's files are not at hand)."""
    if endpoint.server is not None:
        return endpoint.server.model_dir
    model = settings.model
    return Path(model) if model and Path(model).is_dir() else None
