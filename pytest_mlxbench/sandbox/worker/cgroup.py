"""The worker's own cgroup(s), created for it by the parent: memory and process limits for all
of one candidate's processes together (its forks, memfd, SysV shm and its job tmpfs included).

Directories are opened once, before the worker pivots into its allow-list root; every later
access is relative to those descriptors. cgroup v1 (memory and pids hierarchies) and v2 (one
directory, both controllers) are both handled.
"""

from __future__ import annotations

import os


class WorkerCgroup:
    def __init__(self, config: dict) -> None:
        """``config``: {"memory": {"dir", "version"}, "pids": {"dir", "version"}}, either may be missing."""
        self._dirs: dict[str, tuple[int, int]] = {}
        for controller in ("memory", "pids"):
            entry = config.get(controller)
            if entry:
                fd = os.open(entry["dir"], os.O_RDONLY | os.O_DIRECTORY)
                self._dirs[controller] = (fd, int(entry["version"]))
        self._written: dict[tuple[int, str], str] = {}
        self._memory_limit: int | None = None
        self._peak_fd: int | None = None

    @property
    def controllers(self) -> tuple[str, ...]:
        return tuple(self._dirs)

    def disable(self) -> None:
        for fd, _ in self._dirs.values():
            os.close(fd)
        self._dirs.clear()

    def set_limits(self, memory_bytes: int, max_processes: int) -> None:
        """This job's limits (written only when they change), and the peak memory reset."""
        if "memory" in self._dirs:
            fd, version = self._dirs["memory"]
            if version == 1:
                self._set_v1_memory(fd, memory_bytes)
            else:
                self._write(fd, "memory.max", str(memory_bytes))
                self._write(fd, "memory.swap.max", "0", required=False)
                self._write(fd, "memory.oom.group", "1", required=False)
            self._reset_peak(fd, version)
        if "pids" in self._dirs:
            self._write(self._dirs["pids"][0], "pids.max", str(max_processes))

    def procs_fds(self) -> list[int]:
        """Descriptors of ``cgroup.procs`` for a new candidate to join with (see :func:`join`)."""
        distinct = {fd for fd, _ in self._dirs.values()}  # v2: one directory for both
        return [os.open("cgroup.procs", os.O_WRONLY | os.O_CLOEXEC, dir_fd=fd) for fd in sorted(distinct)]

    def _set_v1_memory(self, fd: int, memory_bytes: int) -> None:
        """memsw (memory + swap) may never be below the memory limit: order the two writes."""
        if memory_bytes == self._memory_limit:
            return
        first, second = "memory.limit_in_bytes", "memory.memsw.limit_in_bytes"
        if self._memory_limit is not None and memory_bytes > self._memory_limit:
            first, second = second, first
        self._write(fd, first, str(memory_bytes), required=first == "memory.limit_in_bytes")
        self._write(fd, second, str(memory_bytes), required=second == "memory.limit_in_bytes")
        self._memory_limit = memory_bytes

    def _reset_peak(self, fd: int, version: int) -> None:
        if self._peak_fd is not None:
            os.close(self._peak_fd)
            self._peak_fd = None
        name = "memory.max_usage_in_bytes" if version == 1 else "memory.peak"
        try:
            peak_fd = os.open(name, os.O_RDWR | os.O_CLOEXEC, dir_fd=fd)
            os.write(peak_fd, b"0")  # v1: resets the peak; v2 (Linux 6.12+): resets it for this descriptor
        except OSError:
            return
        self._peak_fd = peak_fd

    def _write(self, dir_fd: int, name: str, value: str, required: bool = True) -> None:
        if self._written.get((dir_fd, name)) == value:
            return
        try:
            fd = os.open(name, os.O_WRONLY | os.O_CLOEXEC, dir_fd=dir_fd)
        except FileNotFoundError:
            if required:
                raise
            return
        try:
            os.write(fd, value.encode())
        finally:
            os.close(fd)
        self._written[(dir_fd, name)] = value

    def oom_kills(self) -> int | None:
        if "memory" not in self._dirs:
            return None
        fd, version = self._dirs["memory"]
        text = _read(fd, "memory.oom_control" if version == 1 else "memory.events")
        for line in (text or "").splitlines():
            key, _, count = line.partition(" ")
            if key == "oom_kill":
                return int(count)
        return None

    def peak_memory(self) -> int | None:
        if self._peak_fd is None:
            return None
        text = os.pread(self._peak_fd, 64, 0).decode()
        return int(text) if text.strip().isdigit() else None


def join(procs_fds: list[int]) -> None:
    """In the candidate, before it gives up privileges: move itself into the worker's cgroup."""
    for fd in procs_fds:
        os.write(fd, b"0")
        os.close(fd)


def _read(dir_fd: int, name: str) -> str | None:
    try:
        fd = os.open(name, os.O_RDONLY | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError:
        return None
    try:
        return os.read(fd, 4096).decode()
    finally:
        os.close(fd)
