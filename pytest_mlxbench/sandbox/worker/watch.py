"""Watching one job's processes (their exits, their output pipes with a cap, the deadline, the
parent's socket) and sweeping up what a candidate leaves behind when it has no PID namespace."""

from __future__ import annotations

import os
import select
import signal
import time

TAIL_BYTES = 4096


class Watch:
    def __init__(self, output_cap: int, control_fd: int) -> None:
        self._output_cap = output_cap
        self._control_fd = control_fd
        self._pipes: dict[int, str] = {}
        self._counted: set[str] = set()
        self._finishing: set[str] = set()
        self.tails: dict[str, bytearray] = {}
        self._totals: dict[str, int] = {}
        self._processes: dict[int, tuple[int | None, bool]] = {}  # pid -> (pidfd, ends the job)
        self._signals: list[int] = []
        self._exited: set[int] = set()

    def add_pipe(self, fd: int, name: str, counted: bool = True, ends_job: bool = False) -> None:
        """``counted``: toward the output cap; ``ends_job``: any byte on it ends the wait ("done")."""
        self._pipes[fd] = name
        self.tails[name] = bytearray()
        self._totals[name] = 0
        if counted:
            self._counted.add(name)
        if ends_job:
            self._finishing.add(name)

    def add_signal(self, fd: int) -> None:
        """A descriptor that ends the wait ("done") once readable; never read or closed here."""
        self._signals.append(fd)

    def add_process(self, pid: int, ends_job: bool) -> None:
        pidfd = os.pidfd_open(pid) if hasattr(os, "pidfd_open") else None
        self._processes[pid] = (pidfd, ends_job)

    def has_exited(self, pid: int) -> bool:
        return pid in self._exited or _exited(pid)

    def wait(self, deadline: float, on_exit=None) -> str:
        """Until a process that ends the job exits ("done"), or "timeout", "output" or "parent gone"."""
        polling = any(pidfd is None for pidfd, _ in self._processes.values())
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return "timeout"
            pidfds = {pidfd: pid for pid, (pidfd, _) in self._processes.items()
                      if pidfd is not None and pid not in self._exited}
            waitables = [*self._pipes, self._control_fd, *self._signals, *pidfds]
            ready, _, _ = select.select(waitables, [], [], min(remaining, 0.005) if polling else remaining)
            if self._control_fd in ready:
                return "parent gone"
            if any(fd in ready for fd in self._signals):
                return "done"
            for fd in ready:
                if fd in self._pipes:
                    self._read(fd)
            if sum(self._totals[name] for name in self._counted) > self._output_cap:
                return "output"
            if any(self._totals[name] for name in self._finishing):
                return "done"
            for pid, (_, ends_job) in self._processes.items():
                if pid in self._exited or not _exited(pid):
                    continue
                self._exited.add(pid)
                if ends_job:
                    return "done"
                if on_exit is not None:
                    on_exit(pid)

    def _read(self, fd: int) -> None:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            chunk = b""
        if not chunk:
            del self._pipes[fd]
            os.close(fd)
            return
        name = self._pipes[fd]
        self._totals[name] += len(chunk)
        tail = self.tails[name]
        tail += chunk
        if len(tail) > 2 * TAIL_BYTES:
            del tail[:-TAIL_BYTES]

    def drain(self) -> None:
        """After the sweep every writer is dead: read what is left (briefly), then close all."""
        deadline = time.monotonic() + 0.5
        while self._pipes and time.monotonic() < deadline:
            ready, _, _ = select.select(list(self._pipes), [], [], 0.05)
            for fd in ready:
                self._read(fd)
        for fd in self._pipes:
            os.close(fd)
        self._pipes.clear()
        for pidfd, _ in self._processes.values():
            if pidfd is not None:
                os.close(pidfd)
        self._processes.clear()

    def text(self, name: str) -> str:
        return bytes(self.tails[name][-TAIL_BYTES:]).decode("utf-8", "replace")


def _exited(pid: int) -> bool:
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def signal_quietly(target: int) -> None:
    """SIGKILL one process (> 1) or one process group (< -1); never everything, never an init."""
    if -1 <= target <= 1:
        return
    try:
        os.kill(target, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def kill_tree(pid: int, uid: int | None, spare: tuple[int, ...] = ()) -> None:
    """Without a PID namespace: the candidate's process group, every process of its dedicated
    uid (escaped ones included), then every other descendant of ours but ``spare`` (we are a
    child subreaper, so orphans became ours). ``pid`` itself is left for the caller to reap."""
    signal_quietly(-pid)
    if uid is not None:
        _kill_all_processes_of(uid)
    for _ in range(100):
        others = [other for other in _descendants(os.getpid()) if other != pid and other not in spare]
        if not others:
            return
        for other in others:
            signal_quietly(other)
            try:
                os.waitpid(other, os.WNOHANG)
            except ChildProcessError:
                pass  # a grandchild: it becomes ours once its parent is gone
        time.sleep(0.001)


def _kill_all_processes_of(uid: int) -> None:
    """A helper that switches to the sandbox uid and sends kill(-1), which then reaches only that
    uid's processes. Guarded: never with privileges, never as root."""
    helper = os.fork()
    if helper == 0:
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            if os.getuid() == uid != 0 and os.geteuid() == uid:
                os.kill(-1, signal.SIGKILL)
        except BaseException:  # noqa: BLE001
            pass
        os._exit(0)
    os.waitpid(helper, 0)


def _descendants(root: int) -> list[int]:
    found, pending = [], [root]
    while pending:
        pid = pending.pop()
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as handle:
                    children = [int(p) for p in handle.read().split()]
            except OSError:
                continue
            found.extend(children)
            pending.extend(children)
    return found


def reap_all(except_: set[int]) -> None:
    """As a namespace's init: reap every exited child (orphans were reparented to us) but those
    in ``except_``, which their owner reaps."""
    try:
        children = [int(pid) for pid in open(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read().split()]
    except OSError:
        return
    for pid in children:
        if pid not in except_:
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
