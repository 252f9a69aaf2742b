"""``--mlx-hosts``: MLX's hostfile, or ``IPxN`` for N local ranks, read into a ``Topology``.

The hostfile is MLX's own format (what ``mlx.launch --hostfile`` reads): a JSON list of hosts, or
an object with ``hosts`` and optionally ``backend`` and ``envs``; each host has ``ssh`` (the name
to ssh to) and ``ips`` (the addresses the ring backend connects over), and for jaccl ``rdma``.
A host named ``127.0.0.1`` runs on this machine (as ``mlx.launch`` treats it).
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from pathlib import Path

from ...errors import BenchInputError

FLAG = "--mlx-hosts"
LOCAL_HOST = "127.0.0.1"
BACKENDS = ("ring", "jaccl", "jaccl-ring")  # MLX's backends between Macs: Ethernet/Thunderbolt ring, RDMA
_SHORTHAND = re.compile(r"(?P<ip>[^\s/\\]+)x(?P<ranks>\d+)")
EXAMPLE = '[{"ssh": "mac-a.local", "ips": ["10.0.0.1"]}, {"ssh": "mac-b.local", "ips": ["10.0.0.2"]}]'


@dataclass(frozen=True)
class Host:
    ssh: str
    ips: tuple[str, ...]

    @property
    def is_local(self) -> bool:
        return self.ssh == LOCAL_HOST


@dataclass(frozen=True)
class Topology:
    hosts: tuple[Host, ...]
    backend: str = "ring"
    envs: tuple[str, ...] = ()  # the hostfile's "envs": KEY=VALUE for every rank
    hostfile: Path | None = None  # None: the IPxN shorthand
    given: str = ""  # as the user wrote it

    @property
    def ranks(self) -> int:
        return len(self.hosts)

    @property
    def local(self) -> bool:
        """Every rank runs on this machine: the plugin starts the ranks itself (no launcher)."""
        return all(host.is_local for host in self.hosts)

    @property
    def rank0_address(self) -> str:
        """Where rank 0 serves HTTP (it binds this address only)."""
        first = self.hosts[0]
        return first.ips[0] if first.ips else first.ssh

    def describe(self, shard: str) -> str:
        how = "local ranks started by the plugin" if self.local else "ranks started by mlx.launch over ssh"
        hosts = ", ".join(host.ssh for host in self.hosts)
        return (f"{self.ranks} ranks, {shard} parallel, {self.backend} backend, hosts {hosts} "
                f"(rank 0 serves HTTP; {how}; --mlx-hosts {self.given})")

    def tag(self, shard: str) -> str:
        """A short identity of the deployment for result tags: two runs that differ here differ in kind."""
        return f"{shard}/{self.backend}/{self.ranks}:{','.join(host.ssh for host in self.hosts)}"


def parse_hosts(text: str, origin: Path) -> Topology:
    """``IPxN`` (a loopback address, N ≥ 2) or the path of MLX's hostfile; bad input is one line."""
    shorthand = _SHORTHAND.fullmatch(text)
    path = (origin / Path(text).expanduser()).resolve()
    if shorthand and not path.exists():
        return _local_ranks(text, shorthand["ip"], int(shorthand["ranks"]))
    if not path.is_file():
        raise BenchInputError(f"{FLAG} {text}: no such hostfile, and not IPxN: give MLX's hostfile (JSON, e.g. "
                              f"{EXAMPLE}) or 127.0.0.1x2 for two local ranks")
    return _read_hostfile(path, text)


def _local_ranks(text: str, ip: str, ranks: int) -> Topology:
    try:
        loopback = ipaddress.ip_address(ip).is_loopback
    except ValueError:
        loopback = False
    if ip != LOCAL_HOST:
        hint = "" if loopback else ": other hosts need a hostfile (ssh name and IPs per host)"
        raise BenchInputError(f"{FLAG} {text}: the IPxN shorthand is for local ranks, give {LOCAL_HOST}x{ranks}{hint}")
    if ranks < 2:
        raise BenchInputError(f"{FLAG} {text}: one rank is the ordinary managed server; give {LOCAL_HOST}x2 or more, "
                              f"or leave {FLAG} out")
    return Topology(tuple(Host(LOCAL_HOST, (LOCAL_HOST,)) for _ in range(ranks)), given=text)


def _read_hostfile(path: Path, given: str) -> Topology:
    where = f"{FLAG} {path}"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise BenchInputError(f"{where} is not a text file: give MLX's hostfile (JSON, e.g. {EXAMPLE})") from None
    except json.JSONDecodeError as error:
        raise BenchInputError(f"{where} is not valid JSON ({error.msg} at line {error.lineno} column {error.colno}): "
                              f"give MLX's hostfile, e.g. {EXAMPLE}") from None
    backend, envs, entries = "ring", [], data
    if isinstance(data, dict):
        unknown = sorted(set(data) - {"hosts", "backend", "envs"})
        if unknown or "hosts" not in data:
            raise BenchInputError(f"{where}: a hostfile object has 'hosts' and optionally 'backend' and 'envs'"
                                  + (f", not {', '.join(map(repr, unknown))}" if unknown else ""))
        backend, envs, entries = data.get("backend") or "ring", data.get("envs") or [], data["hosts"]
    if not isinstance(entries, list) or len(entries) < 2:
        raise BenchInputError(f"{where}: give a list of two or more hosts, e.g. {EXAMPLE}")
    if backend not in BACKENDS:
        raise BenchInputError(f"{where}: backend {backend!r} is not one of {', '.join(BACKENDS)} (MLX's backends "
                              "between Macs)")
    if not isinstance(envs, list) or not all(isinstance(env, str) and "=" in env for env in envs):
        raise BenchInputError(f"{where}: 'envs' is a list of KEY=VALUE strings")
    hosts = tuple(_host(entry, index, where, backend) for index, entry in enumerate(entries))
    topology = Topology(hosts, backend, tuple(envs), path, given)
    if topology.local and backend != "ring":
        raise BenchInputError(f"{where}: local ranks talk over the ring backend; {backend} needs RDMA between Macs")
    return topology


def _host(entry, index: int, where: str, backend: str) -> Host:
    if not isinstance(entry, dict) or not isinstance(entry.get("ssh"), str) or not entry["ssh"].strip():
        raise BenchInputError(f"{where}: host {index} needs an 'ssh' name, e.g. {{\"ssh\": \"mac-a.local\", "
                              "\"ips\": [\"10.0.0.1\"]}")
    ips = entry.get("ips", [])
    if not isinstance(ips, list) or not all(isinstance(ip, str) for ip in ips):
        raise BenchInputError(f"{where}: host {index} ({entry['ssh']}): 'ips' is a list of IP addresses")
    for ip in ips:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise BenchInputError(f"{where}: host {index} ({entry['ssh']}): {ip!r} is not an IP address") from None
    if entry["ssh"] == LOCAL_HOST and not ips:
        ips = [LOCAL_HOST]
    if backend == "ring" and not ips:
        raise BenchInputError(f"{where}: host {index} ({entry['ssh']}) has no 'ips': the ring backend connects "
                              "over IP addresses, list the host's (e.g. its Thunderbolt bridge address)")
    return Host(entry["ssh"], tuple(ips))
