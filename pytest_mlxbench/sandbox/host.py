"""What the parent needs to know about, or reserve on, this machine before starting workers:
uids for candidates and judges, the base directory, the environment and interpreter workers get."""

from __future__ import annotations

import os
import sys
import tempfile

FIRST_SANDBOX_UID = 61000
SANDBOX_UID_RANGE = 2000


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def cpu_count() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def make_base_dir() -> str:
    base = tempfile.mkdtemp(prefix="mlxbench-sandbox-")
    os.chmod(base, 0o711)  # sandbox uids may enter their own job dir but not list the others
    return base


def clean_env() -> dict[str, str]:
    """The workers' whole environment: nothing of ours (no API keys) reaches a candidate."""
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}


def worker_interpreter() -> str:
    """The base interpreter behind a virtual environment: candidates see its prefix, never the venv."""
    return os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)


def user_task_count() -> int:
    """Tasks (processes and threads) of our uid: the base of RLIMIT_NPROC without a uid of its own."""
    count = 0
    uid = str(os.getuid())
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as status:
                fields = dict(line.split(":", 1) for line in status if ":" in line)
            if fields["Uid"].split()[0] == uid:
                count += int(fields["Threads"])
        except (OSError, KeyError, ValueError):
            continue
    return count


class UidLease:
    """An unused high uid, held through an flock so concurrent sandboxes never share it."""

    def __init__(self) -> None:
        import fcntl
        import pwd

        lock_dir = os.path.join(tempfile.gettempdir(), "pytest-mlxbench-sandbox-uids")
        os.makedirs(lock_dir, mode=0o700, exist_ok=True)
        info = os.lstat(lock_dir)
        if info.st_uid != os.getuid() or not os.path.isdir(lock_dir) or os.path.islink(lock_dir):
            raise RuntimeError(f"sandbox uid lock dir {lock_dir} is not a directory owned by us")
        for uid in range(FIRST_SANDBOX_UID, FIRST_SANDBOX_UID + SANDBOX_UID_RANGE):
            try:
                pwd.getpwuid(uid)
                continue
            except KeyError:
                pass
            fd = os.open(os.path.join(lock_dir, f"{uid}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            self.uid, self._fd = uid, fd
            return
        raise RuntimeError(f"no free sandbox uid in the {FIRST_SANDBOX_UID}-{FIRST_SANDBOX_UID + SANDBOX_UID_RANGE - 1} range")

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
