"""A managed ``mlx_lm.server``: command and environment, start (see ``readiness``), death, stop.

Its processes form one ``process.ProcessGroup`` (stopped as a whole, never outliving the run).
``ManagedServer`` is one process on a free loopback port; ``distributed.server.DistributedServer``
is the same server run across several ranks (``--mlx-hosts``). ``managed_server`` picks one
from the options, so a fixture can start one per model.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from . import serverlog
from .process import ProcessGroup, describe_exit
from .readiness import READY_TIMEOUT_S, SERVED_MODEL, ServerError, wait_until_ready

__all__ = ["READY_TIMEOUT_S", "SERVED_MODEL", "ManagedServer", "ServerError", "free_port", "managed_server"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_environment(hub_cache: Path | None = None) -> dict[str, str]:
    """The server only ever reads local files: the model was fetched before it starts."""
    hub_cache = hub_cache or default_hub_cache()
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


def server_command(model_dir: Path, host: str, port: int, *extra_args: str, python: str = sys.executable) -> list[str]:
    return [python, "-m", "mlx_lm", "server", "--model", str(model_dir), "--host", host, "--port", str(port),
            *extra_args]


def managed_server(model_dir: Path, log_path: Path, settings, extra_args: tuple[str, ...] = ()) -> ManagedServer:
    """The managed server the options ask for (not started): across ``--mlx-hosts``, or one
    process; ``extra_args`` go to every ``mlx_lm.server`` it starts."""
    topology = settings.mlx_hosts
    if topology is None:
        return ManagedServer(model_dir, log_path, extra_args=extra_args)
    from .distributed.server import DistributedServer

    return DistributedServer(model_dir, log_path, topology, settings.mlx_shard, settings.mlx_remote_python,
                             extra_args=extra_args)


@dataclass(frozen=True)
class Death:
    """How a managed server ended: ``how`` (e.g. ``killed by SIGKILL``, ``rank 1 exit code 1``), what
    its log says last (``log_says``) and the log."""

    how: str
    log_says: str
    log: Path

    def __str__(self) -> str:
        return f"{self.how}; {self.log_says}; log: {self.log}"


class ManagedServer:
    """``mlx_lm.server`` for one model directory, one process on a free loopback port."""

    name = "mlx_lm.server"

    def __init__(self, model_dir: Path, log_path: Path, *, port: int | None = None, extra_args: tuple[str, ...] = ()):
        self.model_dir = Path(model_dir)
        self.log_path = log_path
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.extra_args = extra_args
        self.group = ProcessGroup()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def process(self):
        """The process that serves HTTP (rank 0 of a distributed server), once started."""
        return next(iter(self.group.members.values()), None)

    def memory_processes(self) -> dict[str, int]:
        """Process name -> pid of what the envelope measures (``server``, or ``rank0``, ``rank1``...)."""
        return self.group.pids()

    def start(self, ready_timeout_s: float = READY_TIMEOUT_S) -> ManagedServer:
        try:
            self._launch()
            wait_until_ready(self, ready_timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def _launch(self) -> None:
        command = server_command(self.model_dir, self.host, self.port, *self.extra_args)
        self.group.spawn("server", command, self.log_path, server_environment())

    def exited(self) -> tuple[str, int | None] | None:
        return self.group.exited()

    def describe_member(self, name: str) -> str:
        return "the server" if name == "server" else name.replace("rank", "rank ")

    def log_of(self, name: str | None = None) -> Path:
        """The log that most likely says why the server failed (``name``'s, when one is known)."""
        return self.group.logs.get(name, self.log_path)

    def failure(self, headline: str, culprit: str | None = None, reply: str | None = None) -> ServerError:
        """The one line of a server that could not start: why (the log's exception line, else the
        server's reply, else the log's last line), what was seen, and the log."""
        log = self.log_of(culprit)
        why = serverlog.exception_line(log) or (f"it answered {serverlog.short(reply)!r}" if reply else serverlog.cause(log))
        who = self.describe_member(culprit or "server")
        return ServerError(f"{self.name} could not start: {why}; {who} {headline}; log: {log}", log)

    def death(self, wait_s: float = 0.0) -> Death | None:
        """None while every process runs; else which process ended, how, and what its log says."""
        deadline = time.monotonic() + wait_s  # a process killed a moment ago may not show as exited yet
        while (exited := self.exited()) is None and time.monotonic() < deadline:
            time.sleep(0.02)
        if exited is None:
            return None
        name, code = exited
        log = self.log_of(name)
        who = "" if name == "server" else self.describe_member(name) + " "
        return Death(f"{who}{describe_exit(code)}", serverlog.describe(log), log)

    def check_alive(self) -> None:
        death = self.death()
        if death:
            raise ServerError(f"{self.name} has died: {death}", death.log)

    def alive(self) -> bool:
        return self.process is not None and self.exited() is None

    def stop(self, grace_s: float = 10.0) -> None:
        self.group.stop(grace_s)
