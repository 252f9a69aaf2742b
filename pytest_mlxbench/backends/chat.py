"""One timed, non-streamed chat completion for accuracy suites, and its failure as one line.

Every accuracy suite sends its requests through ``complete``: it is the one place where a request
that failed (HTTP error, connection refused, a reply without choices) becomes ``RequestFailed``,
a harness error, never a model miss. It is also where ``--bench-concurrency`` takes effect: a
request already sent ahead for the running item (``backends.fanout``) is answered from there.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any


class RequestFailed(Exception):
    """A chat request failed: the server's fault or ours, never the model's answer."""


@dataclass(frozen=True)
class Completion:
    response: Any  # the openai ChatCompletion
    latency_s: float

    @property
    def choice(self):
        return self.response.choices[0]

    @property
    def text(self) -> str:
        return self.choice.message.content or ""

    @property
    def finish_reason(self) -> str | None:
        return self.choice.finish_reason

    @property
    def usage(self) -> dict | None:
        usage = self.response.usage
        return usage.model_dump(mode="json", exclude_none=True) if usage else None


_fanout = None  # the run's backends.fanout.Fanout, installed by the plugin


def install_fanout(config, settings) -> None:
    """Register the fan-out of accuracy suites' requests for this run (``--bench-concurrency``)."""
    global _fanout
    from .fanout import Fanout

    _fanout = Fanout(settings.concurrency, request_kwargs(settings))
    config.pluginmanager.register(_fanout, "mlxbench-fanout")


def request_kwargs(settings) -> dict:
    """The generation parameters of a chat request, from the options."""
    return {"max_tokens": settings.max_tokens, "temperature": settings.temperature, "seed": settings.seed}


def complete(client, endpoint, request: dict) -> Completion:
    """Send ``client.chat.completions.create(**request)`` and time it; raises RequestFailed with
    one line (the API key masked) on any API error or a reply without choices. A reply sent
    ahead for the running item (``--bench-concurrency``) is taken instead of sending again."""
    ahead = _fanout.take(client, endpoint, request, send) if _fanout is not None else None
    if ahead is not None:
        return ahead.result()
    return send(client, endpoint, request)


def send(client, endpoint, request: dict) -> Completion:
    """One request, timed from sending to the complete reply."""
    from openai import OpenAIError

    started = time.perf_counter()
    try:
        response = client.chat.completions.create(**request)
    except OpenAIError as error:
        raise RequestFailed(endpoint.error_text(error)) from None
    latency_s = time.perf_counter() - started
    if not getattr(response, "choices", None):
        raise RequestFailed("the server's reply has no choices")
    return Completion(response, latency_s)
