"""Statistics reported on measurements (percentiles, repeat tags) and the token counts of streamed replies."""

from __future__ import annotations

import statistics
from collections.abc import Callable
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


def token_counter(model_dir: Path | None) -> Callable[[str], int] | None:
    """Counts tokens with the model's own tokenizer, when its tokenizer.json is at hand."""
    if model_dir is None or not (model_dir / "tokenizer.json").is_file():
        return None
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    return lambda text: len(tokenizer.encode(text, add_special_tokens=False).ids)


def completion_tokens(result, count_tokens: Callable[[str], int] | None) -> tuple[int, str]:
    """Generated tokens of a streamed reply (``client.StreamResult``) and where the number came
    from: the server's usage, else the tokenizer, else the count of content chunks (most servers
    send one token per chunk)."""
    if result.completion_tokens is not None:
        return result.completion_tokens, "server_usage"
    if count_tokens is not None:
        return count_tokens(result.text), "tokenizer"
    return len(result.chunk_times), "stream_chunks"


def local_model_dir(endpoint, reference: str | None) -> Path | None:
    """The served model's local directory, for its tokenizer: the managed server's model, or the
    model's reference (``--mlx-model``) when it names a directory (an external server's files are
    not at hand)."""
    if endpoint.server is not None:
        return endpoint.server.model_dir
    return Path(reference) if reference and Path(reference).is_dir() else None


def decode_rate(result, tokens: int) -> float | None:
    """(tokens − 1) over the time from the first content chunk to the last chunk of a streamed
    reply (``client.StreamResult``); None when it cannot be told."""
    ttft, e2el = result.ttft_s, result.e2el_s
    if ttft is None or e2el is None or tokens < 2 or e2el <= ttft:
        return None
    return (tokens - 1) / (e2el - ttft)
