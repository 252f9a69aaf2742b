"""How the ranks of a distributed ``mlx_lm.server`` start.

Local ranks are started by the plugin itself, one process per rank with ``MLX_RANK`` and
``MLX_HOSTFILE`` (the ring backend's JSON list of ``["ip:port"]`` per rank). ``mlx.launch`` is not
used for them: its exit code is 0 when ranks fail, SIGTERM to it orphans the ranks, and each of
its per-rank threads spins a core while the server idles (measured with mlx 0.32.4).

Remote ranks go through ``mlx.launch --hostfile`` over ssh, as MLX documents. It mixes every
rank's output into one stream, so each rank's command is wrapped to prefix its lines with
``[rank N]`` and to mark the end of its output; ``RankOutput`` splits the stream into one log per
rank (and one for the launcher's own lines) and notes which ranks have ended.
"""

from __future__ import annotations

import contextlib
import json
import re
import shlex
import shutil
import sys
import threading
from pathlib import Path
from typing import IO

from ...errors import BenchInputError
from ..server import free_port, server_command
from .hosts import Topology

# bash: the rank's output goes through a prefixer (the same Python, so nothing else must exist on
# the host), then the shell becomes the server, so mlx.launch's pid file names the server itself.
END_MARK = "mlxbench: end of this rank's output"
PREFIXER = ("import os, sys\n"
            "tag = '[rank %s] ' % os.environ.get('MLX_RANK', '?')\n"
            "for line in sys.stdin:\n"
            "    sys.stdout.write(tag + line); sys.stdout.flush()\n"
            f"sys.stdout.write(tag + {END_MARK!r} + '\\n')\n")
RANK_WRAPPER = f'exec > >(exec "$1" -u -c {shlex.quote(PREFIXER)}) 2>&1; exec "$@"'
_RANK_LINE = re.compile(r"\[rank (\d+)\] ?(.*)")
_LAUNCHER_EXIT = re.compile(r"Node with rank (\d+) (?:exited with code (-?\d+)|was killed)")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
OFFLINE_ENV = ("HF_HUB_OFFLINE=1", "TOKENIZERS_PARALLELISM=false")


def ring_hostfile(ranks: int) -> list[list[str]]:
    """The ring backend's hostfile for local ranks: a distinct free loopback port per rank."""
    ports: list[int] = []
    while len(ports) < ranks:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return [[f"127.0.0.1:{port}"] for port in ports]


def local_rank_environments(base_env: dict[str, str], topology: Topology, ring_file: Path) -> list[dict[str, str]]:
    extra = dict(env.split("=", 1) for env in topology.envs)
    return [{**base_env, **extra, "MLX_RANK": str(rank), "MLX_HOSTFILE": str(ring_file)}
            for rank in range(topology.ranks)]


def write_ring_hostfile(path: Path, ranks: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(ring_hostfile(ranks)))
    return path


def launcher_executable() -> str:
    """``mlx.launch`` (a console script only: ``python -m mlx.launch`` does not exist)."""
    beside_python = Path(sys.executable).with_name("mlx.launch")
    found = str(beside_python) if beside_python.is_file() else shutil.which("mlx.launch")
    if not found:
        raise BenchInputError("--mlx-hosts names other hosts, which start through mlx.launch, and it is not "
                              "installed: pip install mlx (it ships mlx.launch)")
    return found


def launcher_command(topology: Topology, model_dir: Path, port: int, rank_args: tuple[str, ...], python: str,
                     launcher: str | None = None) -> list[str]:
    """``mlx.launch`` over the user's hostfile, each rank running the wrapped ``mlx_lm.server``."""
    rank_command = server_command(model_dir, topology.rank0_address, port, *rank_args, python=python)
    envs = [part for env in OFFLINE_ENV for part in ("--env", env)]
    return [launcher or launcher_executable(), "--hostfile", str(topology.hostfile), "--backend", topology.backend,
            *envs, "--", "bash", "-c", RANK_WRAPPER, "mlxbench-rank", *rank_command]


class RankOutput:
    """Splits ``mlx.launch``'s mixed output into one log per rank and one for the launcher, and
    records the ranks whose output ended (their exit code, when the launcher reports it)."""

    def __init__(self, stream: IO[bytes], rank_logs: dict[int, Path], launcher_log: Path):
        self.stream = stream
        self.rank_logs = rank_logs
        self.launcher_log = launcher_log
        self.ended: dict[int, int | None] = {}  # rank -> exit code (None: not reported)
        self.thread = threading.Thread(target=self._run, name="mlxbench-rank-output", daemon=True)

    def start(self) -> RankOutput:
        self.thread.start()
        return self

    def _run(self) -> None:
        with contextlib.ExitStack() as opened:
            files = {rank: opened.enter_context(open(path, "a", encoding="utf-8"))
                     for rank, path in self.rank_logs.items()}
            launcher = opened.enter_context(open(self.launcher_log, "a", encoding="utf-8"))
            for raw in self.stream:
                self.take(raw.decode(errors="replace").rstrip("\r\n"), files, launcher)

    def take(self, line: str, files: dict[int, IO[str]], launcher: IO[str]) -> None:
        rank_line = _RANK_LINE.match(line)
        if rank_line and int(rank_line[1]) in files:
            rank, text = int(rank_line[1]), rank_line[2]
            if text == END_MARK:
                self.ended.setdefault(rank, None)
            else:
                files[rank].write(text + "\n")
                files[rank].flush()
            return
        plain = _ANSI.sub("", line)
        launcher.write(plain + "\n")
        launcher.flush()
        exit_line = _LAUNCHER_EXIT.search(plain)
        if exit_line:
            self.ended[int(exit_line[1])] = int(exit_line[2]) if exit_line[2] is not None else None
