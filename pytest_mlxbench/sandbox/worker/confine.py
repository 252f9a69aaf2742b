"""Linux system calls the workers need and Python 3.11 does not wrap, and the confinement steps
built from them (limits, privilege drop, seccomp). Stdlib only (ctypes)."""

from __future__ import annotations

import os
import platform
import resource
import signal
import sys

CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWUSER = 0x00020000, 0x08000000, 0x10000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MS_KEEP_ON_REMOUNT = 1 | 2 | 4 | 8 | 16 | 64 | 1024 | 2048 | 4096  # statvfs f_flag bits == MS_* bits
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_CHILD_SUBREAPER, PR_SET_NO_NEW_PRIVS = 1, 4, 36, 38
_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 22, 2
_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}
# Signals a candidate of the same uid could send the worker processes; they ignore them.
IGNORED_SIGNALS = tuple(
    getattr(signal, name) for name in
    ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGTSTP", "SIGTTIN", "SIGTTOU")
    if hasattr(signal, name)
)


class Libc:
    """unshare, setns, mount, pivot_root, prctl, capset and seccomp through ctypes."""

    def __init__(self) -> None:
        import ctypes

        self._ctypes = ctypes
        self._libc = ctypes.CDLL(None, use_errno=True)

    def _check(self, result: int, what: str) -> None:
        if result != 0:
            code = self._ctypes.get_errno()
            raise OSError(code, f"{what}: {os.strerror(code)}")

    def unshare(self, flags: int) -> None:
        self._check(self._libc.unshare(flags), "unshare")

    def setns(self, fd: int, nstype: int) -> None:
        self._check(self._libc.setns(fd, nstype), "setns")

    def mount(self, source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
        def encode(text):
            return text.encode() if text is not None else None

        result = self._libc.mount(encode(source), encode(target), encode(fstype), self._ctypes.c_ulong(flags),
                                  encode(data))
        self._check(result, f"mount {target}")

    def umount(self, target: str, flags: int) -> None:
        self._check(self._libc.umount2(target.encode(), flags), f"umount {target}")

    def pivot_root(self, new_root: str, put_old: str) -> None:
        number = _PIVOT_ROOT.get(platform.machine())
        if number is None:
            raise OSError(0, f"pivot_root: unknown system call number on {platform.machine()}")
        self._check(self._libc.syscall(number, new_root.encode(), put_old.encode()), "pivot_root")

    def prctl(self, option: int, value: int) -> None:
        c_ulong = self._ctypes.c_ulong
        self._check(self._libc.prctl(option, c_ulong(value), c_ulong(0), c_ulong(0), c_ulong(0)), "prctl")

    def drop_capabilities(self) -> None:
        ctypes = self._ctypes

        class Header(ctypes.Structure):
            _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

        data = (ctypes.c_uint32 * 6)()
        self._check(self._libc.capset(ctypes.byref(Header(0x20080522, 0)), data), "capset")

    def load_seccomp(self, program: bytes) -> None:
        """Install a classic BPF seccomp filter (as exported by libseccomp); needs NO_NEW_PRIVS."""
        ctypes = self._ctypes

        class Fprog(ctypes.Structure):
            _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

        buffer = ctypes.create_string_buffer(program, len(program))
        fprog = Fprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
        c_ulong = ctypes.c_ulong
        result = self._libc.prctl(_PR_SET_SECCOMP, c_ulong(_SECCOMP_MODE_FILTER), ctypes.byref(fprog),
                                  c_ulong(0), c_ulong(0))
        self._check(result, "seccomp")


def ignore_signals() -> None:
    for number in IGNORED_SIGNALS:
        signal.signal(number, signal.SIG_IGN)


def restore_signals() -> None:
    """Python's own defaults again (SIGPIPE stays ignored: a write to a closed pipe raises)."""
    for number in IGNORED_SIGNALS:
        signal.signal(number, signal.default_int_handler if number == signal.SIGINT else signal.SIG_DFL)


def apply_limits(cpu_seconds: int | None, address_space: int | None, nproc: int | None,
                 file_size: int | None) -> None:
    """Set the limits given (soft = hard, CPU: hard one second later); None leaves one as it is."""
    def cap(which: int, soft: int | None, hard: int | None = None) -> None:
        if soft is not None:
            resource.setrlimit(which, (soft, soft if hard is None else hard))

    cap(resource.RLIMIT_CPU, cpu_seconds, None if cpu_seconds is None else cpu_seconds + 1)
    cap(resource.RLIMIT_FSIZE, file_size)
    cap(resource.RLIMIT_CORE, 0)
    cap(resource.RLIMIT_NPROC, nproc)
    if sys.platform != "darwin":  # macOS does not enforce RLIMIT_AS; the parent polls memory there
        cap(resource.RLIMIT_AS, address_space)


def drop_privileges(libc: Libc | None, uid: int | None, in_user_namespace: bool) -> None:
    """Become ``uid`` (root mode) or give up the user namespace's capabilities; no new privileges."""
    if libc is not None:
        libc.prctl(PR_SET_NO_NEW_PRIVS, 1)
    if uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
        if os.getuid() != uid or os.geteuid() != uid:
            raise OSError(0, "the uid switch did not take")
    elif in_user_namespace and libc is not None:
        libc.drop_capabilities()


def install_fds(targets: list[int]) -> None:
    """Make ``targets[i]`` the descriptor ``i + 1`` (0 becomes /dev/null) and close everything else."""
    place_fds({0: os.open(os.devnull, os.O_RDONLY), **{number: fd for number, fd in enumerate(targets, start=1)}})
    os.closerange(len(targets) + 1, 1 << 16)
    _reopen_standard_streams()


def place_fds(mapping: dict[int, int]) -> None:
    """Make each descriptor ``mapping[n]`` the descriptor ``n``; the sources are closed."""
    import fcntl

    moved = {number: fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 1000) for number, fd in mapping.items()}
    for fd in set(mapping.values()):
        if fd not in mapping:
            os.close(fd)
    for number, fd in moved.items():
        os.dup2(fd, number)
        os.close(fd)


def keep_only(standard: list[int], keep: int) -> int:
    """Point ``standard`` descriptors at /dev/null, close all others but ``keep``; return its new number."""
    import fcntl

    kept = fcntl.fcntl(keep, fcntl.F_DUPFD_CLOEXEC, 1000)
    os.close(keep)
    place_fds({number: os.open(os.devnull, os.O_RDWR) for number in standard})
    os.closerange(max(standard) + 1, kept)
    os.closerange(kept + 1, 1 << 16)
    _reopen_standard_streams()
    return kept


def _reopen_standard_streams() -> None:
    sys.stdin = open(0, "r", closefd=False)
    sys.stdout = open(1, "w", encoding="utf-8", errors="backslashreplace", closefd=False)
    sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False)
