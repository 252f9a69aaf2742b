"""Where an agent runner sends its chat requests: an OpenAI-compatible server."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pytest_mlxbench.errors import BenchInputError

_ERROR_TEXT_LIMIT = 500


@dataclass(frozen=True)
class AgentEndpoint:
    """Connection and sampling settings shared by every runner, so runs are comparable.

    The api key is left out of repr so it never lands in logs or reports.
    """

    base_url: str
    model: str = "default_model"
    api_key: str = field(default="not-needed", repr=False)
    temperature: float = 0.0
    max_tokens: int = 256
    timeout_s: float = 120.0

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise BenchInputError(
                f"endpoint base_url {self.base_url!r} is not an http(s) URL: pass e.g. http://127.0.0.1:8080/v1"
            )

    @classmethod
    def from_endpoint(cls, endpoint: Any, **settings: Any) -> AgentEndpoint:
        """From the plugin's endpoint (anything with base_url, api_key and model), plus sampling settings."""
        return cls(base_url=endpoint.base_url, api_key=endpoint.api_key, model=endpoint.model, **settings)

    def client(self):
        """An ``openai.OpenAI`` client for this endpoint (no retries: a failure is a measurement)."""
        from openai import OpenAI

        return OpenAI(base_url=self.base_url, api_key=self.api_key, timeout=self.timeout_s, max_retries=0)

    def async_client(self):
        """An ``openai.AsyncOpenAI`` client for this endpoint, for frameworks that take one."""
        from openai import AsyncOpenAI

        return AsyncOpenAI(base_url=self.base_url, api_key=self.api_key, timeout=self.timeout_s, max_retries=0)

    def error_text(self, error: BaseException) -> str:
        """One line for a transcript: the error type and message, api key masked, bounded length."""
        text = " ".join(f"{type(error).__name__}: {error}".split())
        if self.api_key and self.api_key in text:
            text = text.replace(self.api_key, "***")
        return text[:_ERROR_TEXT_LIMIT]
