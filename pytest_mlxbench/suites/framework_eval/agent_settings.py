"""What every agent runner shares so runs are comparable: the endpoint and the sampling settings."""

from __future__ import annotations

from dataclasses import dataclass

from pytest_mlxbench.backends.endpoint import Endpoint

AGENT_REQUEST_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class AgentSettings:
    endpoint: Endpoint
    temperature: float = 0.0
    max_tokens: int = 256
    timeout_s: float = AGENT_REQUEST_TIMEOUT_S

    @property
    def base_url(self) -> str:
        return self.endpoint.base_url

    @property
    def api_key(self) -> str:
        return self.endpoint.api_key

    @property
    def model(self) -> str:
        return self.endpoint.model

    def client(self):
        return self.endpoint.client(timeout_s=self.timeout_s)

    def async_client(self):
        return self.endpoint.async_client(timeout_s=self.timeout_s)

    def error_text(self, error: BaseException) -> str:
        return self.endpoint.error_text(error)
