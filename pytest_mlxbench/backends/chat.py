"""One timed, non-streamed chat completion for accuracy suites, its retry policy, and its failure
as one line.

Every accuracy suite sends its requests through ``complete``: it is the one place where a request
that failed (HTTP error, connection refused, a reply that is not a chat completion) becomes
``RequestFailed``, a harness error, never a model miss. Its one line names the HTTP status and the
first ``BODY_CHARS`` characters of the body the server sent.

What is safe to send again is sent again, a bounded number of times with backoff: a connection
refused, or closed or reset before any byte of the response arrived (the server cannot have
answered), and HTTP 429 and 503 (the server says "later"). Each retry is counted here and carried
to the session with the item's context (``records``), which notes the count in the suite's
envelope. A timeout, any other status, or a connection cut after the response started is never
retried.

It is also where ``--bench-concurrency`` takes effect: a request already sent ahead for the
running item (``backends.fanout``) is answered from there.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

RETRY_DELAYS_S = (0.5, 1.0, 2.0)  # three retries, 3.5 s of waiting at most
RETRY_AFTER_CAP_S = 10.0  # a server's Retry-After is honoured up to this
RETRY_STATUSES = (429, 503)
BODY_CHARS = 200
RESPONSE_STARTED = "mlxbench_response_started"  # marked on the request by the client's response hook
BEFORE_RESPONSE = "before the response"

_retries: list[str] = []  # reasons of the retries since the last take, in this process
_retries_lock = threading.Lock()


class RequestFailed(Exception):
    """A chat request failed: the server's fault or ours, never the model's answer."""


@dataclass(frozen=True)
class Completion:
    response: Any  # the openai ChatCompletion
    latency_s: float  # of the attempt that was answered (a retried request's wait is not in it)
    retries: int = 0

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
    """Send ``client.chat.completions.create(**request)`` and time it, retrying what is safe to
    retry; raises RequestFailed with one line (the API key masked) when it does not get a chat
    completion. A reply sent ahead for the running item (``--bench-concurrency``) is taken
    instead of sending again."""
    ahead = _fanout.take(client, endpoint, request, send) if _fanout is not None else None
    if ahead is not None:
        return ahead.result()
    return send(client, endpoint, request)


def send(client, endpoint, request: dict) -> Completion:
    """One request (and its retries), timed from sending to the complete reply."""
    from openai import OpenAIError

    retries = 0
    while True:
        started = time.perf_counter()
        try:
            raw = client.chat.completions.with_raw_response.create(**request)
        except OpenAIError as error:
            reason = transient_reason(error)
            if reason is None or retries == len(RETRY_DELAYS_S):
                after = f" (after {retries} retries)" if retries else ""
                raise _failed(endpoint, failure_text(error) + after) from None
            _count_retry(reason)
            time.sleep(max(RETRY_DELAYS_S[retries], _retry_after_s(error)))
            retries += 1
            continue
        latency_s = time.perf_counter() - started
        return Completion(_chat_completion(raw, endpoint), latency_s, retries)


def _chat_completion(raw, endpoint):
    """The parsed reply, or RequestFailed naming the status and the body when it is not one."""
    try:
        response = raw.parse()
    except ValueError:  # a body that is not JSON, or JSON the SDK cannot read
        response = None
    choices = getattr(response, "choices", None)
    if not choices or getattr(choices[0], "message", None) is None:
        raise _failed(endpoint, f"the server answered HTTP {raw.status_code} with no chat completion: "
                                f"{body_excerpt(raw.text)}")
    return response


def _failed(endpoint, text: str) -> RequestFailed:
    from .clients import masked

    return RequestFailed(masked(text, endpoint.api_key))


def check_event_stream(response) -> None:
    """A streamed request's HTTP response must be an event stream; anything else (an HTML page,
    plain JSON) is RequestFailed naming the status and the body."""
    content_type = response.headers.get("content-type", "")
    if "text/event-stream" not in content_type:
        body = response.read().decode("utf-8", errors="replace")
        raise RequestFailed(f"the server answered HTTP {response.status_code} with no event stream "
                            f"({content_type or 'no content type'}): {body_excerpt(body)}")


def failure_text(error: BaseException) -> str:
    """One line for a failed request: the HTTP status and the start of the body, or what happened
    to the connection."""
    from openai import APIConnectionError, APIStatusError, APITimeoutError

    if isinstance(error, RequestFailed):
        return str(error)
    if isinstance(error, APIStatusError):
        return f"the server answered HTTP {error.status_code}: {body_excerpt(_body_of(error))}"
    if isinstance(error, APITimeoutError):
        return "the server did not answer in time (APITimeoutError)"
    if isinstance(error, APIConnectionError):
        cause = _root_cause(error)
        return f"{connection_fault(error)} ({type(cause).__name__}: {_one_line(str(cause))})"
    return _one_line(f"{type(error).__name__}: {error}")


def transient_reason(error: BaseException) -> str | None:
    """Why the request may be sent again, or None when it may not (see the module docstring)."""
    from openai import APIConnectionError, APIStatusError, APITimeoutError

    if isinstance(error, APIStatusError):
        return f"HTTP {error.status_code}" if error.status_code in RETRY_STATUSES else None
    if not isinstance(error, APIConnectionError) or isinstance(error, APITimeoutError):
        return None
    fault = connection_fault(error)
    return fault if fault.endswith(BEFORE_RESPONSE) else None


def connection_fault(error: BaseException) -> str:
    """What happened to the connection, and whether the response had started."""
    causes = list(_causes(error))
    if any(isinstance(cause, ConnectionRefusedError) for cause in causes):
        return f"connection refused {BEFORE_RESPONSE}"
    if any(isinstance(cause, (ConnectionResetError, BrokenPipeError)) for cause in causes):
        kind = "connection reset"
    elif any("without sending a response" in str(cause) for cause in causes):  # httpcore's words for a FIN
        kind = "connection closed"
    else:
        return "connection failed"
    request = getattr(error, "request", None)
    started = request is not None and request.extensions.get(RESPONSE_STARTED)
    return f"{kind} {'after the response started' if started else BEFORE_RESPONSE}"


def take_retries() -> list[str]:
    """The reasons of every retry since the last call, in this process (see ``records``)."""
    with _retries_lock:
        taken = list(_retries)
        _retries.clear()
    return taken


def retries_note(reasons: list[str]) -> str:
    """The envelope's line for a suite's retries: how many, and why."""
    counts = ", ".join(f"{count} {reason}" for reason, count in Counter(reasons).most_common())
    return (f"transport: {len(reasons)} request(s) sent again after a transient failure ({counts}); "
            "each case counts once, by the answer it finally got")


def body_excerpt(body: str) -> str:
    text = _one_line(body)
    return repr(text[:BODY_CHARS]) + ("..." if len(text) > BODY_CHARS else "") if text else "(empty body)"


def _count_retry(reason: str) -> None:
    with _retries_lock:
        _retries.append(reason)


def _retry_after_s(error: BaseException) -> float:
    response = getattr(error, "response", None)
    try:
        return min(float(response.headers.get("retry-after", 0)), RETRY_AFTER_CAP_S)
    except (AttributeError, TypeError, ValueError):  # no response, or an HTTP date: use our backoff
        return 0.0


def _body_of(error) -> str:
    try:
        return error.response.text
    except Exception:  # a body that cannot be read or decoded says nothing more
        return ""


def _causes(error: BaseException):
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__


def _root_cause(error: BaseException) -> BaseException:
    return list(_causes(error))[-1]


def _one_line(text: str) -> str:
    return " ".join(text.split())


def mark_response_started(response) -> None:
    """httpx response hook (headers arrived, body not yet read): a connection cut from now on
    may have cost the server its work, so the request is not sent again."""
    response.request.extensions[RESPONSE_STARTED] = True
