"""The OpenAI-compatible server the clients talk to, managed or given with --mlx-base-url."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ..errors import BenchInputError
from .server import SERVED_MODEL, ManagedServer

PLACEHOLDER_API_KEY = "mlxbench-no-key"  # the openai client insists on a key; local servers ignore it


@dataclass(frozen=True)
class Endpoint:
    base_url: str
    api_key: str = field(default=PLACEHOLDER_API_KEY, repr=False)  # never in reprs or tracebacks
    model: str = SERVED_MODEL
    server: ManagedServer | None = None  # set when the plugin started the server

    def __post_init__(self) -> None:
        check_http_url(self.base_url, "endpoint base_url")

    def check_alive(self) -> None:
        if self.server is not None:
            self.server.check_alive()

    def client(self, **options):
        """An ``openai.OpenAI`` client for this endpoint (see ``backends.clients``)."""
        from .clients import openai_client

        return openai_client(self, **options)

    def async_client(self, **options):
        """An ``openai.AsyncOpenAI`` client for this endpoint (see ``backends.clients``)."""
        from .clients import async_openai_client

        return async_openai_client(self, **options)

    def error_text(self, error: BaseException) -> str:
        """One line for a failed request, the API key masked."""
        from .clients import request_error_text

        return request_error_text(error, self.api_key)


def check_http_url(url: str, what: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise BenchInputError(f"{what} {url!r} is not an http(s) URL: give e.g. http://127.0.0.1:8080/v1")
    return url.rstrip("/")


def check_reachable(base_url: str, timeout_s: float = 5.0) -> None:
    """Any HTTP answer means a server is there (even 401 or 404); no answer is bad input."""
    try:
        with urllib.request.urlopen(f"{base_url}/models", timeout=timeout_s):
            return
    except urllib.error.HTTPError:
        return
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        raise BenchInputError(
            f"--mlx-base-url {base_url} is unreachable ({reason}): start the server or fix the URL"
        ) from None


def served_model(base_url: str, api_key: str, wanted: str | None, strict: bool = False) -> tuple[str, str | None]:
    """The model name to request: the listed id matching ``wanted`` (a full reference or its last
    path part), else the first listed model, else mlx_lm.server's default name; plus a note when
    the choice was a guess. ``strict`` (several models compared): a guess among several listed
    models is bad input, never a silent pick."""
    endpoint = Endpoint(base_url, api_key)
    with endpoint.client(timeout_s=30) as client:
        listed, problem = _listed_models(endpoint, client)
    if wanted:
        matches = [name for name in listed if name in (wanted, wanted.rstrip("/").rsplit("/", 1)[-1])]
        if matches:
            return matches[0], None
    if strict and wanted and len(listed) > 1:
        raise BenchInputError(f"--mlx-model {wanted}: {base_url} does not list it; it lists "
                              f"{', '.join(listed[:10])}: give one of these ids")
    if listed:
        note = (f"model: the server lists {len(listed)} model(s); requests name the first, {listed[0]!r}"
                if wanted or len(listed) > 1 else None)
        return listed[0], note
    return SERVED_MODEL, f"model: {problem}; requests name {SERVED_MODEL!r}"


def _listed_models(endpoint: Endpoint, client) -> tuple[list[str], str]:
    """The model ids ``GET /models`` lists, and what to say if there are none (a failed request
    or a body that is no model list is named by its HTTP status and the start of the body)."""
    from openai import OpenAIError

    from .chat import body_excerpt
    from .clients import masked

    where = f"{endpoint.base_url}/models"
    try:
        raw = client.models.with_raw_response.list()
    except OpenAIError as error:
        return [], f"{where} failed ({endpoint.error_text(error)})"
    try:
        return [entry["id"] for entry in json.loads(raw.text)["data"]], f"{where} lists no model"
    except (ValueError, KeyError, TypeError):
        return [], masked(f"{where} answered HTTP {raw.status_code} with no model list: {body_excerpt(raw.text)}",
                          endpoint.api_key)
