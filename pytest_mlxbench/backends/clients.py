"""The one place that builds OpenAI clients for an endpoint and turns request errors into one line.

Clients never retry on their own (``max_retries=0``): what is retried, and how it is counted, is
the caller's decision (``chat.complete``), so a failure is never hidden inside the SDK. The sync
client marks each request whose response has started, so a connection cut after that is known
not to be safe to repeat.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .endpoint import Endpoint

REQUEST_TIMEOUT_S = 600.0  # a large model on a small machine may take minutes for one reply
ERROR_CHARS = 300


def openai_client(endpoint: Endpoint, timeout_s: float = REQUEST_TIMEOUT_S):
    """``openai.OpenAI`` bound to the endpoint."""
    from openai import DefaultHttpxClient, OpenAI

    from .chat import mark_response_started

    http_client = DefaultHttpxClient(event_hooks={"response": [mark_response_started]})
    return OpenAI(base_url=endpoint.base_url, api_key=endpoint.api_key, max_retries=0, timeout=timeout_s,
                  http_client=http_client)


def async_openai_client(endpoint: Endpoint, timeout_s: float = REQUEST_TIMEOUT_S):
    """``openai.AsyncOpenAI`` bound to the endpoint (it belongs to the event loop that uses it)."""
    from openai import AsyncOpenAI

    return AsyncOpenAI(base_url=endpoint.base_url, api_key=endpoint.api_key, max_retries=0, timeout=timeout_s)


def request_error_text(error: BaseException, api_key: str | None = None, limit: int = ERROR_CHARS) -> str:
    """One line for an error of a request (``chat.failure_text``: the HTTP status and the start of
    the body, or what happened to the connection), the API key masked, bounded in length."""
    from .chat import failure_text

    return masked(failure_text(error), api_key)[:limit]


def masked(text: str, api_key: str | None) -> str:
    """The text with every occurrence of the API key replaced."""
    return text.replace(api_key, "***") if api_key else text
