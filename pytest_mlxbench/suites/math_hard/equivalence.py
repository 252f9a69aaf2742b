"""Answer checking with a time limit: a client of the checker process (``checker_worker``).

``AnswerChecker`` starts ``python -m pytest_mlxbench.suites.math_hard.checker_worker`` on first use
and keeps it for the run (sympy loads once). Each check has a deadline; past it the process is
killed (by its own pid) and the check raises ``CheckerTimeout``, which the suite records as the
wrong answer of kind ``checker_timeout``. The next check starts a fresh process. Works the same
in any thread and on macOS and Linux (pipes and ``selectors``; no signals in this process).
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import time

WORKER_MODULE = "pytest_mlxbench.suites.math_hard.checker_worker"
START_SECONDS = 120.0  # importing sympy on a slow CI machine
DEFAULT_CHECK_SECONDS = 10.0
INSTALL_HINT = "pip install math-verify 'antlr4-python3-runtime==4.11.0' (pytest-mlxbench's own dependencies)"


class CheckerTimeout(Exception):
    """A check ran past its deadline (the reply made the checker hang)."""


class CheckerUnavailable(Exception):
    """The checker cannot run here (a library is missing): one line with the install command."""


class AnswerChecker:
    def __init__(self, check_seconds: float = DEFAULT_CHECK_SECONDS):
        self.check_seconds = check_seconds
        self._process: subprocess.Popen | None = None
        self._buffer = b""

    def start(self) -> AnswerChecker:
        """Start the checker process now (``CheckerUnavailable`` when math-verify or sympy is missing)."""
        self._ensure_started()
        return self

    def math_verify(self, answer: str, reference: str) -> dict:
        """``{"equivalent": bool, "parsed": [...]}`` by math-verify; ``CheckerTimeout`` past the deadline."""
        return self._call({"op": "math_verify", "answer": answer, "reference": reference})

    def minerva_equal(self, answer: str, reference: str) -> bool:
        """lm-eval's minerva_math ``is_equiv`` on normalised answers; a timeout counts as not equal, as there."""
        if answer and answer == reference:
            return True
        try:
            return bool(self._call({"op": "minerva", "answer": answer, "reference": reference})["equivalent"])
        except CheckerTimeout:
            return False

    def close(self) -> None:
        if self._process is not None:
            self._stop()

    def __enter__(self) -> AnswerChecker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _call(self, request: dict) -> dict:
        process = self._ensure_started()
        process.stdin.write((json.dumps(request) + "\n").encode())
        process.stdin.flush()
        line = self._read_line(self.check_seconds)
        if line is None:
            self._stop()
            raise CheckerTimeout(f"the answer check took longer than {self.check_seconds:g} s")
        return json.loads(line)

    def _ensure_started(self) -> subprocess.Popen:
        if self._process is not None and self._process.poll() is None:
            return self._process
        self._process = subprocess.Popen([sys.executable, "-m", WORKER_MODULE], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self._buffer = b""
        first = self._read_line(START_SECONDS)
        status = json.loads(first) if first else {"unavailable": "the checker process did not start"}
        if "ready" not in status:
            self._stop()
            raise CheckerUnavailable(f"math-hard cannot check answers ({status['unavailable']}): {INSTALL_HINT}")
        return self._process

    def _read_line(self, seconds: float) -> bytes | None:
        """One line from the worker within ``seconds``; None on timeout or when the worker died."""
        deadline = time.monotonic() + seconds
        with selectors.DefaultSelector() as selector:
            selector.register(self._process.stdout, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not selector.select(remaining):
                    return None
                chunk = os.read(self._process.stdout.fileno(), 65536)
                if not chunk:
                    return None
                self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process.poll() is None:
            process.kill()
        process.wait()
        for stream in (process.stdin, process.stdout):
            try:
                stream.close()
            except OSError:
                pass
