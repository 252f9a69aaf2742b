"""The sandbox's public value types: limits, checks, results, the isolation report."""

from __future__ import annotations

import dataclasses
from typing import Literal

Verdict = Literal["passed", "failed", "error", "timeout", "killed", "unencodable"]
VERDICTS: tuple[str, ...] = ("passed", "failed", "error", "timeout", "killed", "unencodable")


@dataclasses.dataclass(frozen=True)
class Limits:
    """Resource limits of one candidate.

    ``address_space_bytes`` caps each process's address space (RLIMIT_AS) and, where a cgroup
    could be made, the memory of all the candidate's processes together, its memfd, SysV shared
    memory and job directory included. ``max_processes`` is ``pids.max`` of that cgroup (and
    RLIMIT_NPROC). ``disk_bytes`` and ``max_files`` size the candidate's own tmpfs (its working
    directory). ``message_bytes`` caps one value crossing between candidate and judge.
    """

    cpu_seconds: int = 10
    address_space_bytes: int = 2 * 1024**3
    max_processes: int = 32
    output_bytes: int = 1024**2
    file_size_bytes: int = 16 * 1024**2
    disk_bytes: int = 64 * 1024**2
    max_files: int = 4096
    message_bytes: int = 64 * 1024**2

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"Limits.{field.name} must be a positive int, got {value!r}")


@dataclasses.dataclass(frozen=True)
class Check:
    """Test code for the judge: it runs in its own process with ``candidate`` (and
    ``entry_point`` by name) bound to a proxy of the candidate's function.

    ``context`` runs first in the judge (trusted definitions the test relies on, e.g. a prompt's
    helper functions); ``test`` runs after the proxies are bound. ``expose`` names further
    functions of the candidate that the test calls by name. ``data`` (plain data) is the test's
    ``DATA``. ``call_timeout_s`` limits each call unless the test passes its own
    (``candidate.call(args, timeout_s=...)``).
    """

    test: str
    entry_point: str
    context: str = ""
    expose: tuple[str, ...] = ()
    data: object = None
    call_timeout_s: float | None = None

    def __post_init__(self) -> None:
        for name in (self.entry_point, *self.expose):
            if not (isinstance(name, str) and name.isidentifier()):
                raise ValueError(f"Check: {name!r} is not a function name")
        if self.call_timeout_s is not None and not self.call_timeout_s > 0:
            raise ValueError(f"Check.call_timeout_s must be positive, got {self.call_timeout_s!r}")


class SandboxError(RuntimeError):
    """The sandbox itself failed (a worker or a judge died or hung): a harness error, never a verdict."""


@dataclasses.dataclass(frozen=True)
class SandboxResult:
    """Outcome of one program.

    ``isolation`` says how the verdict was reached: ``"judge"`` (the test ran in the judge's
    process; nothing the candidate does can forge a pass) or ``"in_process"`` (the program
    held its own checks, the old way). ``outputs`` is what the test code ``record()``-ed,
    ``calls`` how many calls the judge made, ``failing_line`` the test's source line that failed.
    """

    verdict: Verdict
    duration_s: float
    stdout_tail: str
    stderr_tail: str
    detail: str
    exit_code: int | None = None
    signal_name: str | None = None
    isolation: str = "in_process"
    failing_line: str | None = None
    outputs: tuple = ()
    calls: int = 0
    peak_memory_bytes: int | None = None
    judge_stderr_tail: str = ""
    needs_in_process: bool = False

    @property
    def passed(self) -> bool:
        return self.verdict == "passed"


@dataclasses.dataclass(frozen=True)
class Isolation:
    """Which protections are in force for the candidates of a :class:`Sandbox`; ``notes`` say
    what is missing and why."""

    separate_uid: bool
    network_isolated: bool
    pid_namespace: bool
    filesystem_protected: bool
    judge_separate_uid: bool = False
    ipc_namespace: bool = False
    disk_limited: bool = False
    seccomp: bool = False
    memory_cgroup: bool = False
    pids_cgroup: bool = False
    notes: tuple[str, ...] = ()

    def in_force(self) -> tuple[str, ...]:
        """Names of the protections in force, in a fixed order."""
        return tuple(field.name for field in dataclasses.fields(self) if field.name != "notes" and getattr(self, field.name))


def default_timeout(canonical_runtime_s: float) -> float:
    """Wall-clock timeout for candidates of a problem, EvalPlus style: max(4 s, 4 x canonical)."""
    return max(4.0, 4.0 * canonical_runtime_s)
