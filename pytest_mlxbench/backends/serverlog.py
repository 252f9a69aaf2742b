"""What a server's log says, in one line: the exception that stopped it, or its last line."""

from __future__ import annotations

import re
from collections import deque
from pathlib import Path

TAIL_LINES = 400  # enough for a long traceback after the load error
# The last line of a Python traceback: `ValueError: ...`, `mlx.core.SomeError: ...`, `KeyboardInterrupt`
_EXCEPTION_LINE = re.compile(r"^(?:[A-Za-z_][\w]*\.)*[A-Za-z_]\w*(?:Error|Exception|Exit|Interrupt|Warning)\b(?::.*)?$")
_PEER_LOST = "connection to a peer was lost"  # a distributed rank whose peer died: the effect, not the cause
LINE_CHARS = 300


def tail(path: Path, lines: int = TAIL_LINES) -> list[str]:
    try:
        with open(path, encoding="utf-8", errors="replace") as log:
            return [line.rstrip() for line in deque(log, maxlen=lines)]
    except OSError:
        return []


def exception_line(path: Path) -> str | None:
    """The exception of the last traceback in the log (what the server died or failed of)."""
    lines = tail(path)
    for index in range(len(lines) - 1, -1, -1):
        if _EXCEPTION_LINE.match(lines[index]) and _after_traceback(lines, index):
            return short(lines[index])
    return None


def last_line(path: Path) -> str | None:
    return next((short(line) for line in reversed(tail(path, 50)) if line.strip()), None)


def cause(path: Path) -> str:
    """The exception line, else the last line, else a note that the log is empty."""
    return exception_line(path) or last_line(path) or "(the log is empty)"


def describe(path: Path) -> str:
    """``last error in the log: '...'`` or ``last log line: '...'``."""
    error = exception_line(path)
    if error:
        return f"last error in the log: {error!r}"
    return f"last log line: {last_line(path) or '(the log is empty)'!r}"


def is_peer_lost(line: str | None) -> bool:
    return bool(line) and _PEER_LOST in line


def _after_traceback(lines: list[str], index: int) -> bool:
    """The line ends a traceback: a ``Traceback`` header above it, with only frames between."""
    for line in reversed(lines[max(0, index - 200):index]):
        if line.startswith("Traceback (most recent call last)"):
            return True
        if line and not line.startswith((" ", "\t")) and not _EXCEPTION_LINE.match(line):
            return False
    return False


def short(line: str) -> str:
    line = " ".join(line.split())
    return line if len(line) <= LINE_CHARS else line[:LINE_CHARS] + "..."
