"""Real filesystem faults for one subprocess: read-only and full file systems mounted in a private
mount namespace (``unshare --mount``), so the fault exists only for that process tree, only on
directories of the test, and is bounded in size (a small tmpfs).

Root ignores permission bits, so a read-only mount (``EROFS``) is how a test makes a directory
truly unwritable; a full tmpfs gives ``ENOSPC`` for real. Mount points must exist before the run.
"""

from __future__ import annotations

import functools
import os
import shlex
import subprocess
from pathlib import Path

import pytest

from .contract import IN_CI


def read_only(path: Path) -> str:
    """An empty read-only file system at ``path``."""
    return f"mount -t tmpfs -o ro,size=16k tmpfs {shlex.quote(str(path))}"


def read_only_bind(path: Path | str) -> str:
    """``path`` itself, if it exists, made read-only (its files stay readable). Mounts made after
    it on directories inside it stay writable."""
    quoted = shlex.quote(str(path))
    return f"if [ -d {quoted} ]; then mount --bind {quoted} {quoted} && mount -o remount,bind,ro {quoted}; fi"


def small(path: Path, size_kb: int) -> str:
    """An empty file system of ``size_kb`` KiB at ``path`` (the test may fill it)."""
    return f"mount -t tmpfs -o size={size_kb}k tmpfs {shlex.quote(str(path))}"


def full(path: Path) -> str:
    """A file system at ``path`` with no space left (16 KiB, filled)."""
    return f"{small(path, 16)} && (cat /dev/zero > {shlex.quote(str(path / 'filler'))} 2>/dev/null || true)"


def with_mounts(mounts: list[str], command: list[str]) -> list[str]:
    """``command`` run in a new mount namespace where ``mounts`` are made first (skips the test,
    or fails it under CI, where the machine cannot make a mount namespace)."""
    problem = _namespace_problem()
    if problem:
        message = f"cannot make a private mount namespace here ({problem})"
        if IN_CI:
            pytest.fail(f"{message}: CI must run this test", pytrace=False)
        pytest.skip(message)
    script = " && ".join([*mounts, 'exec "$@"'])
    return [*_unshare(), "sh", "-ec", script, "sh", *command]


def _unshare() -> list[str]:
    as_root = [] if os.geteuid() == 0 else ["--map-root-user"]
    return ["unshare", "--mount", "--propagation", "private", *as_root]


@functools.cache
def _namespace_problem() -> str | None:
    try:
        probe = subprocess.run([*_unshare(), "sh", "-c", "mount -t tmpfs -o size=4k tmpfs /tmp"],  # only in there
                               capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        return str(error)
    return None if probe.returncode == 0 else (probe.stderr.strip() or f"exit code {probe.returncode}")
