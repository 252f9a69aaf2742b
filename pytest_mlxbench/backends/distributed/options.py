"""Options of the managed server across several ranks (found by ``settings`` like a suite's)."""

from pytest_mlxbench.errors import BenchInputError
from pytest_mlxbench.settings import Option

from .hosts import parse_hosts

SHARD_MODES = ("tensor", "pipeline")


def _read_shard(text: str, origin) -> str:
    if text not in SHARD_MODES:
        raise BenchInputError(f"--mlx-shard {text!r}: give tensor (split attention heads and MLP width across ranks) "
                              "or pipeline (split the layers)")
    return text


OPTIONS = (
    Option("--mlx-hosts", "HOSTFILE|127.0.0.1xN", "run the managed mlx_lm.server across these hosts with MLX's "
           "distributed runtime: MLX's hostfile (JSON), or 127.0.0.1xN for N local ranks", parse=parse_hosts),
    Option("--mlx-shard", "MODE", "with --mlx-hosts: tensor (split heads and MLP width) or pipeline (split layers)",
           "tensor", parse=_read_shard),
    Option("--mlx-remote-python", "PATH", "with a hostfile naming other hosts: the Python that runs mlx_lm on them "
           "(default: this Python's path, the same environment on every host)"),
)


def hosts_need_a_managed_server(settings) -> None:
    if settings.mlx_hosts is not None and settings.base_urls:
        raise BenchInputError("--mlx-hosts starts the managed server across hosts and --mlx-base-url uses a server "
                              "that is already running: give one of them")


CHECKS = (hosts_need_a_managed_server,)
