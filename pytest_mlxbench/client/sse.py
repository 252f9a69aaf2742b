"""Server-sent events parsed incrementally, as the bytes arrive.

Only what chat-completion streams use is kept: the ``data`` of each event (several ``data:`` lines
joined with newlines); comments (``:`` lines, used as keep-alive pings), ``event``, ``id`` and
``retry`` fields are read and dropped. Lines end with LF, CRLF or CR, as the specification allows,
and may be split anywhere between two reads. An event the stream ends inside (no blank line after
it) is dropped, as the specification says: a cut stream shows as incomplete, not as a short reply.
"""

from __future__ import annotations


class SseParser:
    def __init__(self) -> None:
        self._pending = b""
        self._data: list[bytes] = []

    def feed(self, data: bytes) -> list[str]:
        """The data of every event completed by these bytes, in order."""
        buffer = self._pending + data
        if b"\r" in buffer:
            held = buffer.endswith(b"\r")  # the LF of a CRLF may be in the next read
            buffer = (buffer[:-1] if held else buffer).replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            lines = buffer.split(b"\n")
            self._pending = lines.pop() + (b"\r" if held else b"")
        else:
            lines = buffer.split(b"\n")
            self._pending = lines.pop()
        events = []
        for line in lines:
            if not line:
                if self._data:
                    events.append(b"\n".join(self._data).decode("utf-8", errors="replace"))
                    self._data = []
            elif line.startswith(b"data:"):
                value = line[5:]
                self._data.append(value[1:] if value.startswith(b" ") else value)
        return events
