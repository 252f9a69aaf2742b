"""``mlx_lm.server`` across the ranks of a ``Topology``: one managed server, rank 0 serving HTTP.

It behaves like ``ManagedServer`` (start, readiness, death, stop) with one log per rank
(``<log stem>-rank0.log``...). Local ranks are members of its process group, each measured for
memory (``rank0``, ``rank1``...); remote ranks run under ``mlx.launch`` (the group's one member
here, with a watchdog since its ssh clients are its own children). Stopping signals the whole
group: local ranks end at once; an ssh client that ends closes its terminal, and the remote rank
gets SIGHUP (``mlx.launch`` runs ``ssh -tt`` for that).
"""

from __future__ import annotations

import sys
from pathlib import Path

from .. import serverlog
from ..server import ManagedServer, server_command, server_environment
from .hosts import Topology
from .launch import (
    RankOutput,
    launcher_command,
    local_rank_environments,
    write_ring_hostfile,
)

LAUNCHER = "launcher"


def rank_log_path(log_path: Path, suffix: str) -> Path:
    return log_path.with_name(f"{log_path.stem}-{suffix}{log_path.suffix}")


class DistributedServer(ManagedServer):
    def __init__(self, model_dir: Path, log_path: Path, topology: Topology, shard: str = "tensor",
                 remote_python: str | None = None, extra_args: tuple[str, ...] = ()):
        super().__init__(model_dir, log_path, extra_args=extra_args)
        self.topology = topology
        self.shard = shard
        self.remote_python = remote_python or sys.executable
        self.host = "127.0.0.1" if topology.local else topology.rank0_address
        self.rank_logs = {f"rank{rank}": rank_log_path(log_path, f"rank{rank}") for rank in range(topology.ranks)}
        self.output: RankOutput | None = None  # remote ranks' output, split per rank

    @property
    def rank_args(self) -> tuple[str, ...]:
        """The server's arguments beyond model, host and port, the same on every rank."""
        return (*self.extra_args, *(("--pipeline",) if self.shard == "pipeline" else ()))

    def describe(self) -> str:
        return self.topology.describe(self.shard)

    def memory_processes(self) -> dict[str, int]:
        """The ranks running on this machine by name (under mlx.launch: those of its 127.0.0.1
        hosts); ranks on other machines are not measured here."""
        if self.topology.local:
            return self.group.pids()
        import psutil

        ranks = {}
        for process in psutil.Process(self.process.pid).children(recursive=True):
            try:
                command, env = process.cmdline(), process.environ()
            except psutil.Error:
                continue
            if command[1:3] == ["-m", "mlx_lm"] and "MLX_RANK" in env:
                ranks[f"rank{env['MLX_RANK']}"] = process.pid
        return dict(sorted(ranks.items()))

    def _launch(self) -> None:
        if self.topology.local:
            self._launch_local_ranks()
        else:
            self._launch_through_mlx_launch()

    def _launch_local_ranks(self) -> None:
        ring_file = write_ring_hostfile(rank_log_path(self.log_path, "ring").with_suffix(".json"), self.topology.ranks)
        command = server_command(self.model_dir, self.host, self.port, *self.rank_args)
        environments = local_rank_environments(server_environment(), self.topology, ring_file)
        for rank, env in enumerate(environments):
            self.group.spawn(f"rank{rank}", command, self.rank_logs[f"rank{rank}"], env)

    def _launch_through_mlx_launch(self) -> None:
        command = launcher_command(self.topology, self.model_dir, self.port, self.rank_args, self.remote_python)
        launcher_log = rank_log_path(self.log_path, LAUNCHER)
        process = self.group.spawn(LAUNCHER, command, launcher_log, server_environment(), starts_children=True,
                                   capture=True)
        ranks = {int(name.removeprefix("rank")): path for name, path in self.rank_logs.items()}
        self.output = RankOutput(process.stdout, ranks, launcher_log).start()

    def exited(self) -> tuple[str, int | None] | None:
        """A rank whose output ended (remote), else the first member that exited (a local rank or the launcher)."""
        if self.output is not None and self.output.ended:
            rank = min(self.output.ended)
            return f"rank{rank}", self.output.ended[rank]
        return self.group.exited()

    def log_of(self, name: str | None = None) -> Path:
        """The named rank's log; for no name, the first rank whose log has an error that is not the
        effect of another rank's end (a lost peer), else rank 0's."""
        if name in self.rank_logs:
            return self.rank_logs[name]
        if name == LAUNCHER:
            return rank_log_path(self.log_path, LAUNCHER)
        for path in self.rank_logs.values():
            error = serverlog.exception_line(path)
            if error and not serverlog.is_peer_lost(error):
                return path
        return self.rank_logs["rank0"]

    def failure(self, headline: str, culprit: str | None = None, reply: str | None = None):
        if culprit is None:  # name the rank whose log says why
            culprit = next((name for name, path in self.rank_logs.items() if path == self.log_of()), None)
        return super().failure(headline, culprit, reply)
