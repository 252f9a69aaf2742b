"""The one place that builds OpenAI clients for an endpoint and turns request errors into one line.

Clients never retry on their own (``max_retries=0``): what is retried, and how it is counted, is
the caller's decision, so a failure is never hidden inside the SDK.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .endpoint import Endpoint

REQUEST_TIMEOUT_S = 600.0  # a large model on a small machine may take minutes for one reply
ERROR_CHARS = 300


def openai_client(endpoint: Endpoint, timeout_s: float = REQUEST_TIMEOUT_S):
    """``openai.OpenAI`` bound to the endpoint."""
    from openai import OpenAI

    return OpenAI(base_url=endpoint.base_url, api_key=endpoint.api_key, max_retries=0, timeout=timeout_s)


def async_openai_client(endpoint: Endpoint, timeout_s: float = REQUEST_TIMEOUT_S):
    """``openai.AsyncOpenAI`` bound to the endpoint (it belongs to the event loop that uses it)."""
    from openai import AsyncOpenAI

    return AsyncOpenAI(base_url=endpoint.base_url, api_key=endpoint.api_key, max_retries=0, timeout=timeout_s)


def request_error_text(error: BaseException, api_key: str | None = None, limit: int = ERROR_CHARS) -> str:
    """One line for an error of a request: its type and message, whitespace folded, the API key
    masked, bounded in length."""
    text = " ".join(f"{type(error).__name__}: {error}".split())
    if api_key and api_key in text:
        text = text.replace(api_key, "***")
    return text[:limit]
