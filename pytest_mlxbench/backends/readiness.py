"""When a managed server is ready, and when it will never be: found within seconds, not at a timeout.

Ready means ``GET /health`` answers 200 (a server without ``/health`` answers 404 and goes on)
and then one real chat completion answers: ``/v1/models`` and ``/health`` answer while the model
is still loading. Never ready, at once:

- a member process exits (``mlx_lm.server`` could not start, a rank died);
- ``/health`` answers 503: mlx_lm.server's generation thread died (the model failed to load, or a
  rank of a distributed server is gone);
- the chat request gets a status that waiting cannot change (mlx_lm.server answers 404 to every
  request once its model failed to load).

The chat request runs in a thread, so the processes are watched while a large model loads.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .process import describe_exit

READY_TIMEOUT_S = 300.0
POLL_S = 0.1
RETRY_STATUSES = frozenset({408, 425, 429, 502, 503, 504})  # a server still coming up may say these
SERVED_MODEL = "default_model"  # mlx_lm.server's name for the model given with --model


class ServerError(RuntimeError):
    """The server could not start or has died; the message is one line naming the cause and the log."""

    def __init__(self, message: str, log: Path | None = None):
        super().__init__(message)
        self.log = log


class Supervised(Protocol):
    base_url: str

    def exited(self) -> tuple[str, int] | None: ...

    def failure(self, headline: str, culprit: str | None = None, reply: str | None = None) -> ServerError: ...


@dataclass
class _Answer:
    status: int | None = None  # HTTP status; None: no answer (connection refused, reset, timeout)
    text: str = ""  # the body's start, or what went wrong in transport


def wait_until_ready(server: Supervised, timeout_s: float = READY_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    health = _wait_for_health(server, deadline)
    if health.status == 503:
        raise server.failure("reported itself unhealthy (HTTP 503 on /health)")
    last = health
    while time.monotonic() < deadline:
        last = _chat_watching(server, deadline)
        if last.status == 200:
            return
        if last.status is not None and last.status not in RETRY_STATUSES:
            raise server.failure(f"answered HTTP {last.status} to its first chat request", reply=last.text)
        time.sleep(POLL_S)
    raise server.failure(f"was not ready after {timeout_s:.0f} s ({last.text or 'no answer'})")


def _wait_for_health(server: Supervised, deadline: float) -> _Answer:
    """The first answer of ``/health`` other than a retryable one (or the last problem at the deadline)."""
    answer = _Answer(text="no answer")
    while time.monotonic() < deadline:
        _raise_if_exited(server)
        answer = _get(f"{_root(server.base_url)}/health", timeout_s=5.0)
        if answer.status is not None and answer.status not in RETRY_STATUSES - {503}:
            return answer
        time.sleep(POLL_S)
    return answer


def _chat_watching(server: Supervised, deadline: float) -> _Answer:
    """One readiness chat request, sent from a thread while the processes are watched."""
    result: list[_Answer] = []
    thread = threading.Thread(target=lambda: result.append(_chat(server.base_url, deadline)), daemon=True)
    thread.start()
    while thread.is_alive():
        _raise_if_exited(server)
        thread.join(POLL_S)
    _raise_if_exited(server)
    return result[0]


def _raise_if_exited(server: Supervised) -> None:
    exited = server.exited()
    if exited is not None:
        name, code = exited
        raise server.failure(f"exited while starting ({describe_exit(code)})", culprit=name)


def _chat(base_url: str, deadline: float) -> _Answer:
    body = json.dumps({"model": SERVED_MODEL, "max_tokens": 1, "temperature": 0.0,
                       "messages": [{"role": "user", "content": "ping"}]}).encode()
    request = urllib.request.Request(f"{base_url}/chat/completions", data=body,
                                     headers={"Content-Type": "application/json"})
    answer = _send(request, max(1.0, deadline - time.monotonic()))
    if answer.status == 200 and '"choices"' not in answer.text:
        return _Answer(None, f"a reply without choices: {answer.text[:200]}")
    return answer


def _get(url: str, timeout_s: float) -> _Answer:
    return _send(urllib.request.Request(url), timeout_s)


def _send(request: urllib.request.Request, timeout_s: float) -> _Answer:
    """The status and the body's start, or no status and the transport problem, of one request."""
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return _Answer(response.status, response.read(2000).decode(errors="replace"))
    except urllib.error.HTTPError as error:
        return _Answer(error.code, error.read(300).decode(errors="replace").strip())
    except (OSError, ValueError) as error:  # refused, reset, timed out, or a malformed reply
        return _Answer(None, str(getattr(error, "reason", error)))


def _root(base_url: str) -> str:
    return base_url.removesuffix("/v1")
