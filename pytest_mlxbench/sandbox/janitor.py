"""Removing directory trees a candidate made, however deep or hostile, without ever crashing.

Only needed where candidates have no tmpfs of their own (no mount namespace: macOS, or Linux
without namespaces); elsewhere a job's files vanish with its mount namespace.

:func:`remove_tree` never recurses and never builds long paths: each subdirectory is renamed
up into a flat holding directory beside the tree and emptied from there, so a chain of
thousands of levels costs one rename per level, one open descriptor at a time. Modes a
candidate took away are given back first (it may own its files).
"""

from __future__ import annotations

import os
import queue
import stat
import threading
import warnings


def remove_tree(path: str) -> None:
    """Remove ``path`` and everything under it; errors are left out of the caller's way."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(info.st_mode):
        os.unlink(path)
        return
    parent = os.path.dirname(os.path.abspath(path)) or "/"
    holding = os.path.join(parent, f".removing-{os.getpid()}-{os.urandom(4).hex()}")
    os.mkdir(holding, 0o700)
    os.rename(path, os.path.join(holding, "0"))
    pending, counter = ["0"], 1
    holding_fd = os.open(holding, os.O_RDONLY | os.O_DIRECTORY)
    try:
        while pending:
            name = pending.pop()
            counter = _flatten(holding_fd, name, pending, counter)
        for name in os.listdir(holding_fd):
            os.rmdir(name, dir_fd=holding_fd)
    finally:
        os.close(holding_fd)
    os.rmdir(holding)


def _flatten(holding_fd: int, name: str, pending: list[str], counter: int) -> int:
    """Delete the files of one directory; move its subdirectories up into the holding directory."""
    os.chmod(name, 0o700, dir_fd=holding_fd)  # a directory we renamed here ourselves
    fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=holding_fd)
    try:
        for entry in os.listdir(fd):
            if stat.S_ISDIR(os.lstat(entry, dir_fd=fd).st_mode):
                moved = str(counter)
                counter += 1
                os.rename(entry, moved, src_dir_fd=fd, dst_dir_fd=holding_fd)
                pending.append(moved)
            else:
                os.unlink(entry, dir_fd=fd)
    finally:
        os.close(fd)
    return counter


class Janitor:
    """Removes finished job directories on a thread of its own (rmdir can block on I/O); a
    tree it cannot remove is reported once as a warning, and the janitor goes on."""

    def __init__(self) -> None:
        self._paths: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="mlxbench-sandbox-janitor", daemon=True)
        self._thread.start()

    def remove(self, path: str) -> None:
        self._paths.put(path)

    def _work(self) -> None:
        while (path := self._paths.get()) is not None:
            try:
                remove_tree(path)
            except BaseException as exc:  # noqa: BLE001 - the janitor must outlive any tree
                warnings.warn(f"pytest-mlxbench sandbox could not remove {path}: {exc}", stacklevel=1)

    def close(self) -> None:
        """Wait for every removal queued so far."""
        if self._thread.is_alive():
            self._paths.put(None)
            self._thread.join()
