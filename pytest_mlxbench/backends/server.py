"""A managed ``mlx_lm.server`` process: free loopback port, readiness, log file, stop."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import deque
from pathlib import Path

READY_TIMEOUT_S = 300.0
SERVED_MODEL = "default_model"  # mlx_lm.server's name for the model given with --model


class ServerError(RuntimeError):
    """The server could not start or has died; the message carries the tail of its log."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_environment(hub_cache: Path) -> dict[str, str]:
    """The server only ever reads local files: the model was fetched before it starts."""
    hub_cache.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(HF_HUB_OFFLINE="1", HF_HUB_CACHE=str(hub_cache), TOKENIZERS_PARALLELISM="false")
    return env


def default_hub_cache() -> Path:
    configured = os.environ.get("HF_HUB_CACHE")
    if configured:
        return Path(configured)
    hf_home = Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface"))
    return hf_home / "hub"


class ManagedServer:
    def __init__(self, model_dir: Path, log_path: Path, *, port: int | None = None,
                 extra_args: tuple[str, ...] = ()):
        self.model_dir = model_dir
        self.log_path = log_path
        self.port = port or free_port()
        self.extra_args = extra_args
        self.process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, ready_timeout_s: float = READY_TIMEOUT_S) -> ManagedServer:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "mlx_lm", "server", "--model", str(self.model_dir),
                   "--host", "127.0.0.1", "--port", str(self.port), *self.extra_args]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=server_environment(default_hub_cache()),
            )
        try:
            self._wait_until_ready(ready_timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_ready(self, timeout_s: float) -> None:
        """Ready means a real chat completion answered: /v1/models can answer before the model works."""
        deadline = time.monotonic() + timeout_s
        last_problem = "no answer yet"
        while time.monotonic() < deadline:
            if not self.alive():
                raise ServerError(self.failure_message(f"mlx_lm.server exited with code {self.process.returncode} while starting"))
            try:
                self.chat_once(timeout_s=30)
                return
            except (OSError, urllib.error.URLError, ValueError) as error:
                last_problem = str(error)
                time.sleep(0.2)
        raise ServerError(self.failure_message(f"mlx_lm.server not ready after {timeout_s:.0f} s ({last_problem})"))

    def chat_once(self, timeout_s: float) -> dict:
        body = json.dumps({
            "model": SERVED_MODEL, "max_tokens": 1, "temperature": 0.0,
            "messages": [{"role": "user", "content": "ping"}],
        }).encode()
        request = urllib.request.Request(
            f"{self.base_url}/chat/completions", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            answer = json.loads(response.read())
        if not answer.get("choices"):
            raise ValueError(f"chat completion without choices: {str(answer)[:200]}")
        return answer

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as log:
                return "".join(deque(log, maxlen=lines)).rstrip()
        except OSError:
            return "(no log)"

    def failure_message(self, headline: str) -> str:
        return f"{headline}; log {self.log_path}, last lines:\n{self.log_tail()}"

    def check_alive(self) -> None:
        if not self.alive():
            code = self.process.returncode if self.process else None
            raise ServerError(self.failure_message(f"mlx_lm.server (port {self.port}) has died (exit code {code})"))

    def stop(self, grace_s: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(grace_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
