"""Runs the attacks of ``sandbox_attacks`` and judges whether each was contained: no pass, no
``LEAK`` line, nothing arrived at our listeners, and the canonical solution still passes after it.

Used by the root tests (``tests/test_sandbox_forgery.py``, ``tests/test_sandbox_reach.py``) and
run as its own program by ``tests/test_sandbox_nonroot.py`` under an unprivileged uid:

    python tests/support/sandbox_attack_run.py REPO_ROOT [NAME ...]   # prints one JSON report
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import sys
import tempfile
import uuid

try:
    from .sandbox_attacks import ATTACKS, CANONICAL, MARKER, MEMORY_LIMIT, TEST, Attack
except ImportError:  # run as a program, beside sandbox_attacks.py
    from sandbox_attacks import ATTACKS, CANONICAL, MARKER, MEMORY_LIMIT, TEST, Attack


@dataclasses.dataclass
class Outcome:
    name: str
    verdict: str
    leaks: list[str]
    canonical_after: str
    contained: bool
    note: str = ""


def run_attack(sandbox, attack: Attack, fixtures: dict):
    """Run one attack, then the canonical solution on the same sandbox; judge containment."""
    from pytest_mlxbench.sandbox import Check, Limits

    check = Check(test=TEST, entry_point="add")
    limits = Limits(**attack.limits)
    leaks = []
    for _ in range(attack.repeat):
        result = sandbox.run(attack.source(fixtures), timeout_s=attack.timeout_s, limits=limits, check=check)
        leaks += [line for line in (result.stdout_tail + result.stderr_tail).splitlines() if line.startswith("LEAK")]
    after = sandbox.run(CANONICAL, timeout_s=10, check=check).verdict
    contained = result.verdict != "passed" and not leaks and after == "passed"
    return result, Outcome(attack.name, result.verdict, leaks, after, contained)


class Fixtures:
    """What the attacks aim at, all inside one temporary directory of ours: a world-readable
    ``.env`` canary, a 0666 UNIX socket (and an abstract one), a loopback TCP listener."""

    def __init__(self, project: str) -> None:
        self.directory = tempfile.mkdtemp(prefix="mlxbench-attacks-")
        os.chmod(self.directory, 0o755)
        canary = os.path.join(self.directory, ".env")
        with open(canary, "w") as handle:
            handle.write("OPENAI_API_KEY=sk-canary\n")
        os.chmod(canary, 0o644)
        self.unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        unix_path = os.path.join(self.directory, "open.sock")
        self.unix.bind(unix_path)
        os.chmod(unix_path, 0o666)
        self.unix.listen(4)
        abstract = f"mlxbench-attack-{uuid.uuid4().hex}"
        self.abstract = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.abstract.bind("\0" + abstract)
        self.abstract.listen(4)
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.bind(("127.0.0.1", 0))
        self.tcp.listen(4)
        for listener in (self.unix, self.abstract, self.tcp):
            listener.setblocking(False)
        self.values = {
            "secrets": [canary, os.path.join(project, ".env")], "project": project, "canary_dir": self.directory,
            "unix_socket": unix_path, "abstract_socket": abstract, "tcp_port": self.tcp.getsockname()[1],
            "marker_head": MARKER[:24], "marker_tail": int.from_bytes(MARKER[24:].encode(), "big"),
            "marker_tail_size": len(MARKER) - 24, "memory_limit": MEMORY_LIMIT,
        }

    def arrivals(self) -> list[str]:
        """Connections that reached our listeners (there must be none)."""
        arrived = []
        for name, listener in (("unix", self.unix), ("abstract", self.abstract), ("tcp", self.tcp)):
            try:
                connection, _ = listener.accept()
                connection.close()
                arrived.append(name)
            except BlockingIOError:
                pass
        return arrived

    def close(self) -> None:
        for listener in (self.unix, self.abstract, self.tcp):
            listener.close()
        for name in os.listdir(self.directory):
            os.remove(os.path.join(self.directory, name))
        os.rmdir(self.directory)


def main(argv: list[str]) -> int:
    """Run the named attacks (all by default) on a fresh Sandbox; print one JSON report."""
    project, wanted = argv[0], set(argv[1:])
    import warnings

    from pytest_mlxbench.sandbox import Sandbox

    fixtures = Fixtures(project)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sandbox = Sandbox(workers=1)
        with sandbox:
            outcomes = [run_attack(sandbox, attack, fixtures.values)[1] for attack in ATTACKS
                        if not wanted or attack.name in wanted]
            isolation = dataclasses.asdict(sandbox.isolation)
        arrivals = fixtures.arrivals()
    finally:
        fixtures.close()
    print(json.dumps({"uid": os.getuid(), "isolation": isolation, "warnings": [str(w.message) for w in caught],
                      "arrivals": arrivals, "outcomes": [dataclasses.asdict(o) for o in outcomes]}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
