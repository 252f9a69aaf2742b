"""Child processes that never outlive the run: a server's processes form one process group,
stopped as a whole, that dies with the pytest process that started it, even on SIGKILL.

Two guards, chosen per member:

- Linux, started from the main thread: the kernel sends the child SIGKILL when its parent dies
  (``prctl(PR_SET_PDEATHSIG)``, set by a small exec wrapper so no Python code runs between fork
  and exec). The kernel ties it to the thread that forked, hence the main-thread condition.
- everywhere else (macOS, another thread, or a member that starts children of its own such as
  ``mlx.launch`` and its ssh clients): a watchdog process (``watchdog.py``) that stops the whole
  group once its parent is gone.

The group is a new process group in pytest's session: Ctrl-C at the terminal (SIGINT to the
foreground group) reaches pytest only, which then stops the group itself.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import weakref
from pathlib import Path

from .watchdog import group_exists

# Sets PR_SET_PDEATHSIG (1) to SIGKILL, gives up if the parent already died, then becomes the command.
_DIE_WITH_PARENT = (
    "import ctypes, os, signal, sys\n"
    "ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)\n"
    "os.getppid() == int(sys.argv[1]) or os._exit(1)\n"
    "os.execvp(sys.argv[2], sys.argv[2:])\n"
)
WATCHDOG = Path(__file__).with_name("watchdog.py")
_LIVE: weakref.WeakSet[ProcessGroup] = weakref.WeakSet()


def describe_exit(returncode: int | None) -> str:
    if returncode is None:
        return "ended (exit status not reported)"
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


def kernel_guard_available() -> bool:
    return sys.platform.startswith("linux") and threading.current_thread() is threading.main_thread()


class ProcessGroup:
    """Named member processes in one process group; each member's output goes to its own log."""

    def __init__(self) -> None:
        self.members: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}
        self.pgid: int | None = None
        self.watchdog: subprocess.Popen | None = None

    def spawn(self, name: str, command: list[str], log_path: Path, env: dict[str, str], *,
              starts_children: bool = False, capture: bool = False) -> subprocess.Popen:
        """Start a member, its output appended to ``log_path`` (``capture``: through ``process.stdout``
        instead, for the caller to write); ``starts_children``: it has children of its own, which
        only the watchdog reaches once it is gone."""
        kernel_guard = kernel_guard_available() and not starts_children
        if kernel_guard:
            command = [sys.executable, "-I", "-S", "-c", _DIE_WITH_PARENT, str(os.getpid()), *command]
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.ExitStack() as files:
            output = subprocess.PIPE if capture else files.enter_context(open(log_path, "ab"))
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                                       env=env, process_group=self.pgid or 0)
        self.pgid = self.pgid or process.pid
        self.members[name] = process
        self.logs[name] = log_path
        if not kernel_guard and self.watchdog is None:
            self.watchdog = subprocess.Popen([sys.executable, "-I", "-S", str(WATCHDOG), str(os.getpid()), str(self.pgid)],
                                             stdin=subprocess.DEVNULL, process_group=0)
        _LIVE.add(self)
        return process

    def pids(self) -> dict[str, int]:
        return {name: process.pid for name, process in self.members.items()}

    def exited(self) -> tuple[str, int | None] | None:
        """The first member (in start order) that has exited, with its return code."""
        for name, process in self.members.items():
            if process.poll() is not None:
                return name, process.returncode
        return None

    def stop(self, grace_s: float = 10.0) -> None:
        """SIGTERM to the whole group, SIGKILL to what is left after ``grace_s``; then the watchdog."""
        if self.pgid is not None and self.pgid > 1:
            for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
                if not self._signal_group(sig):
                    break
                if self._wait_gone(wait_s):
                    break
        for process in self.members.values():
            if process.poll() is None:  # out of the group (it changed its own): the last resort
                process.kill()
                process.wait()
        if self.watchdog is not None and self.watchdog.poll() is None:
            self.watchdog.kill()
            self.watchdog.wait()
        _LIVE.discard(self)

    def _signal_group(self, sig: signal.Signals) -> bool:
        try:
            os.killpg(self.pgid, sig)
        except ProcessLookupError:
            return False
        return True

    def _wait_gone(self, timeout_s: float) -> bool:
        """Members reaped and nothing else left in the group (a member's own children)."""
        deadline = time.monotonic() + timeout_s
        while True:
            running = [process for process in self.members.values() if process.poll() is None]
            if not running and not group_exists(self.pgid):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)


@atexit.register
def _stop_all() -> None:
    """Groups a crash left running (no fixture teardown) are stopped when the interpreter exits."""
    for group in list(_LIVE):
        group.stop(grace_s=2.0)
