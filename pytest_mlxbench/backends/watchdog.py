"""Stops a process group once the process that started it is gone.

Run as a script (``python -I watchdog.py PARENT_PID PGID``), never imported by the plugin at run
time, so it starts in milliseconds and holds no package state. ``process.ProcessGroup`` starts it
where the kernel cannot tie a child's life to its parent: on macOS (no ``PR_SET_PDEATHSIG``), for
a child started outside the main thread, and for a group whose members start children of their
own (``mlx.launch`` and its ssh clients). On Linux the project's tests run it; its macOS use is
the same code on the same POSIX calls, but no macOS machine runs it here.
"""

from __future__ import annotations

import os
import signal
import sys
import time

POLL_S = 0.2
GRACE_S = 5.0


def group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by someone else: not ours to judge
        return True
    return True


def stop_group(pgid: int, grace_s: float = GRACE_S) -> None:
    """SIGTERM to the group, SIGKILL to whatever is left after the grace period."""
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 0.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and group_exists(pgid):
            time.sleep(0.05)


def watch(parent: int, pgid: int) -> int:
    if pgid <= 1 or parent <= 1:  # never signal process group 0/1 (ours or init's)
        return 2
    while True:
        if os.getppid() != parent:  # re-parented: the process that started the group has died
            stop_group(pgid)
            return 0
        if not group_exists(pgid):  # stopped normally: nothing left to guard
            return 0
        time.sleep(POLL_S)


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C meant for pytest must not end the guard
    try:
        parent, pgid = (int(value) for value in argv)
    except ValueError:
        print("usage: watchdog.py PARENT_PID PGID", file=sys.stderr)
        return 2
    return watch(parent, pgid)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
