"""HTTP/1.1 over an asyncio protocol: one request at a time per connection, the response parsed
as its bytes arrive (status line, headers, then a body framed by Content-Length, chunked transfer
coding, or the end of the connection as HTTP/1.0 servers such as ``mlx_lm.server`` do).

``data_received`` takes the clock before anything else, so every byte of the body is handed on
with the time it arrived, not the time some later code looked at it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

BodySink = Callable[[bytes, float], None]  # (body bytes, perf_counter at their arrival)
MAX_HEAD_BYTES = 64 * 1024


class ProtocolError(Exception):
    """The server's bytes are not a valid HTTP/1.1 response."""


class Response:
    """One response being received: status and headers, then body bytes to ``sink``."""

    def __init__(self, sink: BodySink) -> None:
        self.sink = sink
        self.status = 0
        self.headers: dict[str, str] = {}
        self.done: asyncio.Future = asyncio.get_running_loop().create_future()
        # a request given up on (timeout, cancelled) still ends its future when the connection
        # closes: mark that outcome as seen, the request already has its error
        self.done.add_done_callback(lambda future: future.cancelled() or future.exception())
        self.keep_alive = False
        self._head = b""
        self._framing = ""  # "length", "chunked" or "close", once the head is read
        self._remaining = 0  # body bytes left (length) or in the current chunk (chunked)
        self._chunk_state = "size"  # chunked: size line, data, the CRLF after data, trailer
        self._buffer = b""

    def feed(self, data: bytes, now: float) -> None:
        if not self._framing:
            data = self._read_head(data)
            if data is None:
                return
        if self._framing == "length":
            self._feed_length(data, now)
        elif self._framing == "chunked":
            self._feed_chunked(data, now)
        elif data:
            self.sink(data, now)

    def connection_ended(self, error: BaseException | None) -> None:
        """The server closed the connection: the end of a close-framed body, else an error."""
        if self.done.done():
            return
        if self._framing == "close":
            self.keep_alive = False
            self.done.set_result(None)
        else:
            where = "before the response" if not self._framing else "inside the response body"
            self.done.set_exception(ConnectionError(f"the server closed the connection {where}"
                                                    + (f" ({error})" if error else "")))

    def _read_head(self, data: bytes) -> bytes | None:
        self._head += data
        end = self._head.find(b"\r\n\r\n")
        if end < 0:
            if len(self._head) > MAX_HEAD_BYTES:
                raise ProtocolError("response headers larger than 64 KiB")
            return None
        head, rest = self._head[:end], self._head[end + 4:]
        self._head = b""
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise ProtocolError(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
        self.status = int(parts[1])
        for line in lines[1:]:
            name, _, value = line.partition(":")
            self.headers[name.strip().lower()] = value.strip()
        connection = self.headers.get("connection", "").lower()
        self.keep_alive = parts[0] == "HTTP/1.1" and "close" not in connection
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            self._framing = "chunked"
        elif "content-length" in self.headers:
            self._framing = "length"
            self._remaining = int(self.headers["content-length"])
            if self._remaining == 0:
                self.done.set_result(None)
        else:
            self._framing = "close"
            self.keep_alive = False
        return rest

    def _feed_length(self, data: bytes, now: float) -> None:
        if self.done.done():
            return
        body = data[: self._remaining]
        self._remaining -= len(body)
        if body:
            self.sink(body, now)
        if self._remaining == 0:
            self.done.set_result(None)

    def _feed_chunked(self, data: bytes, now: float) -> None:
        buffer = self._buffer + data
        self._buffer = b""
        body = []
        while buffer and not self.done.done():
            if self._chunk_state == "data":
                piece = buffer[: self._remaining]
                body.append(piece)
                self._remaining -= len(piece)
                buffer = buffer[len(piece):]
                if self._remaining == 0:
                    self._chunk_state = "crlf"
                continue
            end = buffer.find(b"\r\n")
            if end < 0:
                self._buffer = buffer
                break
            line, buffer = buffer[:end], buffer[end + 2:]
            if self._chunk_state == "crlf":
                self._chunk_state = "size"
            elif self._chunk_state == "size":
                try:
                    self._remaining = int(line.split(b";", 1)[0], 16)
                except ValueError:
                    raise ProtocolError(f"bad chunk size line {line[:40]!r}") from None
                self._chunk_state = "data" if self._remaining else "trailer"
            elif not line:  # the blank line that ends the trailer
                self.done.set_result(None)
        if body:
            self.sink(b"".join(body), now)


class Connection(asyncio.Protocol):
    """One keep-alive connection; ``send`` writes a request and returns its Response."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.response: Response | None = None
        self.closed = False

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        response = self.response
        if response is None or response.done.done():
            return  # bytes after a complete response: the connection is not reused
        try:
            response.feed(data, now)
        except ProtocolError as error:
            response.done.set_exception(error)
            self.close()
        except BaseException as error:  # a sink's error belongs to the request, not the loop
            if not response.done.done():
                response.done.set_exception(error)
            self.close()

    def eof_received(self) -> bool:
        return False  # close the transport; connection_lost ends the response

    def connection_lost(self, error: BaseException | None) -> None:
        self.closed = True
        if self.response is not None:
            self.response.connection_ended(error)

    def send(self, request: bytes, sink: BodySink) -> Response:
        self.response = Response(sink)
        self.transport.write(request)
        return self.response

    @property
    def reusable(self) -> bool:
        response = self.response
        return (not self.closed and response is not None and response.done.done()
                and not response.done.cancelled() and response.done.exception() is None
                and response.keep_alive)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()
