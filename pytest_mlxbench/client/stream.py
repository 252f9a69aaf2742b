"""The streaming measurement client: chat completions over HTTP/1.1 keep-alive, SSE parsed as the
bytes arrive, every chunk stamped with the time its bytes arrived.

One code path serves the first and every later chunk. The clock starts before a connection is
taken from the pool (as vLLM's ``bench serve`` starts it before ``session.post``); with a
keep-alive server the pool already holds an open connection, and with an HTTP/1.0 server (which
closes after every response) the connect is part of what a user of that server waits for too.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from .http1 import Connection, ProtocolError

REQUEST_TIMEOUT_S = 600.0
ERROR_CHARS = 300


@dataclass
class StreamResult:
    """What one streamed request did, in ``time.perf_counter`` seconds."""

    started: float
    status: int = 0
    response_id: str | None = None
    chunk_times: list[float] = field(default_factory=list)  # chunks that carry generated content
    chunk_texts: list[str] = field(default_factory=list)
    last_chunk_at: float | None = None  # the last chunk with choices (a finish-only chunk too)
    ended_at: float | None = None
    finish_reason: str | None = None
    done: bool = False  # the server sent ``data: [DONE]``
    prompt_tokens: int | None = None  # from the server's usage, when it sent any
    completion_tokens: int | None = None
    error: str | None = None

    @property
    def ttft_s(self) -> float | None:
        return self.chunk_times[0] - self.started if self.chunk_times else None

    @property
    def e2el_s(self) -> float | None:
        """To the last chunk with choices (vLLM's E2EL: a usage-only chunk or [DONE] do not count)."""
        return self.last_chunk_at - self.started if self.last_chunk_at is not None else None

    @property
    def text(self) -> str:
        return "".join(self.chunk_texts)

    @property
    def complete(self) -> bool:
        return self.finish_reason is not None or self.done

    @property
    def outcome(self) -> str:
        """ok, failed (an error or no content at all) or truncated (content, then the stream was cut)."""
        if self.error is None and self.chunk_times and self.complete:
            return "ok"
        if self.chunk_times and not self.complete:
            return "truncated"
        return "failed"


class _StreamReader:
    """Turns the SSE events of one response into a StreamResult."""

    def __init__(self, result: StreamResult) -> None:
        from .sse import SseParser

        self.result = result
        self.parser = SseParser()
        self.error_body = b""
        self.response = None  # the http1.Response, set when the request is sent

    @property
    def is_event_stream(self) -> bool:
        return self.response.status == 200 and "text/event-stream" in self.content_type

    @property
    def content_type(self) -> str:
        return self.response.headers.get("content-type", "")

    def body(self, data: bytes, now: float) -> None:
        if not self.is_event_stream:  # an error, or a page that is no event stream: kept to be named
            self.error_body = (self.error_body + data)[:ERROR_CHARS]
            return
        for event in self.parser.feed(data):
            self.event(event, now)

    def event(self, data: str, now: float) -> None:
        result = self.result
        if data == "[DONE]":
            result.done = True
            return
        try:
            chunk = json.loads(data)
        except ValueError:
            result.error = result.error or f"invalid JSON in the stream: {data[:80]!r}"
            return
        if not isinstance(chunk, dict):
            return
        if chunk.get("error") is not None:
            result.error = result.error or f"error event: {str(chunk['error'])[:ERROR_CHARS]}"
        result.response_id = result.response_id or chunk.get("id")
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            result.prompt_tokens = usage.get("prompt_tokens", result.prompt_tokens)
            result.completion_tokens = usage.get("completion_tokens", result.completion_tokens)
        choices = chunk.get("choices")
        if not choices:
            return
        result.last_chunk_at = now
        choice = choices[0]
        delta = choice.get("delta") or {}
        content = delta.get("content")
        if content or delta.get("tool_calls") or delta.get("reasoning_content") or delta.get("reasoning"):
            result.chunk_times.append(now)
            result.chunk_texts.append(content or "")
        if choice.get("finish_reason"):
            result.finish_reason = choice["finish_reason"]


def _expire(response) -> None:
    if not response.done.done():
        response.done.set_exception(TimeoutError())


class StreamClient:
    """Streams chat completions from one OpenAI-compatible server (``base_url`` ends in ``/v1``)."""

    def __init__(self, base_url: str, api_key: str | None = None, timeout_s: float = REQUEST_TIMEOUT_S):
        parts = urlsplit(base_url.rstrip("/"))
        self.secure = parts.scheme == "https"
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (443 if self.secure else 80)
        self.path = parts.path
        self.timeout_s = timeout_s
        self._api_key = api_key
        self._idle: list[Connection] = []
        self._ssl = ssl.create_default_context() if self.secure else None
        host = self.host if self.port in (80, 443) else f"{self.host}:{self.port}"
        auth = f"Authorization: Bearer {api_key}\r\n" if api_key else ""
        self._headers = f"Host: {host}\r\n{auth}User-Agent: pytest-mlxbench\r\n"

    async def __aenter__(self) -> StreamClient:
        return self

    async def __aexit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        for connection in self._idle:
            connection.close()
        self._idle.clear()

    async def warm_up(self, connections: int = 1) -> list[str]:
        """Open ``connections`` connections with ``GET /models`` (no model work): the pool, the
        imports and TLS are ready before anything is measured. Returns the listed model ids."""
        replies = await asyncio.gather(*(self.get("/models") for _ in range(connections)))
        status, body = replies[0]
        if status != 200:
            return []
        try:
            return [model["id"] for model in json.loads(body).get("data", []) if "id" in model]
        except (ValueError, TypeError, AttributeError):
            return []

    async def get(self, path: str) -> tuple[int, bytes]:
        body = bytearray()
        request = f"GET {self.path}{path} HTTP/1.1\r\n{self._headers}Accept: application/json\r\n\r\n".encode()
        connection = await self._connection()
        response = connection.send(request, lambda data, now: body.extend(data))
        try:
            await self._wait(response)
        finally:
            self._release(connection)
        return response.status, bytes(body)

    async def _wait(self, response) -> None:
        """Until the response is complete; TimeoutError after ``timeout_s`` (a plain timer: no
        extra tasks or futures between the bytes and the caller)."""
        timer = asyncio.get_running_loop().call_later(self.timeout_s, _expire, response)
        try:
            await response.done
        finally:
            timer.cancel()

    async def chat_stream(self, body: dict) -> StreamResult:
        """POST a streamed chat completion (``stream`` and ``stream_options.include_usage`` are set
        here) and time it. Never raises for the server's faults: they land in ``result.error``."""
        payload = json.dumps({**body, "stream": True, "stream_options": {"include_usage": True}},
                             separators=(",", ":")).encode()
        request = (f"POST {self.path}/chat/completions HTTP/1.1\r\n{self._headers}"
                   f"Content-Type: application/json\r\nAccept: text/event-stream\r\n"
                   f"Content-Length: {len(payload)}\r\n\r\n").encode() + payload
        result = StreamResult(started=time.perf_counter())
        reader = _StreamReader(result)
        connection = None
        try:
            connection = await self._connection()
            reader.response = connection.send(request, reader.body)
            await self._wait(reader.response)
        except TimeoutError:
            result.error = f"no complete reply after {self.timeout_s:g} s"
        except (OSError, ConnectionError, ProtocolError) as error:
            result.error = f"{type(error).__name__}: {error}"[:ERROR_CHARS]
        finally:
            result.ended_at = time.perf_counter()
            result.status = reader.response.status if reader.response is not None else 0
            if connection is not None:
                self._release(connection)
        if result.status and not reader.is_event_stream and result.error is None:
            result.error = _not_a_stream(result.status, reader.content_type, reader.error_body)
        return result

    async def _connection(self) -> Connection:
        while self._idle:
            connection = self._idle.pop()
            if not connection.closed:
                return connection
        loop = asyncio.get_running_loop()
        _, connection = await loop.create_connection(
            Connection, self.host, self.port, ssl=self._ssl, server_hostname=self.host if self._ssl else None)
        return connection

    def _release(self, connection: Connection) -> None:
        if connection.reusable:
            self._idle.append(connection)
        else:
            connection.close()


def _not_a_stream(status: int, content_type: str, body: bytes) -> str:
    """The one line for an answer that is no event stream: its status and the start of its body,
    worded as the accuracy suites word theirs (``backends.chat``)."""
    from pytest_mlxbench.backends.chat import body_excerpt

    excerpt = body_excerpt(body.decode("utf-8", errors="replace"))
    if status != 200:
        return f"the server answered HTTP {status}: {excerpt}"
    return f"the server answered HTTP 200 with no event stream ({content_type or 'no content type'}): {excerpt}"
