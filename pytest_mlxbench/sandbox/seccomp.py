"""The seccomp filter of candidates and judges, built with libseccomp (``pyseccomp``) in the
parent and handed to the workers as a BPF program, so the workers stay stdlib-only.

Default: allow. Refused with EPERM (EAFNOSUPPORT for socket families, ENOSYS for clone3, whose
flags a filter cannot read, so libc falls back to clone): sockets other than AF_UNIX, AF_INET
and AF_INET6 (so no AF_VSOCK, which ignores network namespaces, no AF_PACKET, no netlink), raw
and packet sockets; keyrings (``keyctl``, ``add_key``, ``request_key``); ``ptrace``, reading or
writing other processes' memory, stealing their descriptors; ``unshare``, ``setns``, ``clone``
with a namespace flag, every mount call, ``chroot``; ``prlimit64`` on any process but the caller;
BPF, perf events, userfaultfd, io_uring (which bypasses seccomp), modules, kexec, reboot, swap,
``open_by_handle_at``, terminal injection (TIOCSTI). A call from another architecture's ABI
kills the process.

Two variants: with a PID namespace per candidate, signals can only reach the candidate's own
processes, so they are left alone; without one (``shared_pid_namespace``), signals may only go
to the caller's own process group (``kill(0, ...)``), since a same-uid candidate could
otherwise signal the judge, the worker or the test run.
"""

from __future__ import annotations

import errno
import sys
import tempfile

_DENIED = (
    "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "kcmp",
    "keyctl", "add_key", "request_key",
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree", "fsopen",
    "fsconfig", "fsmount", "fspick", "mount_setattr",
    "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot", "swapon",
    "swapoff", "acct", "quotactl", "open_by_handle_at", "name_to_handle_at", "lookup_dcookie", "iopl", "ioperm",
    "syslog", "vhangup",
)
_SIGNALLING = ("tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "pidfd_open", "pidfd_send_signal")
_ALLOWED_FAMILIES = (1, 2, 10)  # AF_UNIX, AF_INET, AF_INET6
_RAW_TYPES = (3, 10)  # SOCK_RAW, SOCK_PACKET
_NAMESPACE_FLAGS = (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000)
_TERMINAL_IOCTLS = (0x5412, 0x541C)  # TIOCSTI, TIOCLINUX


def build_programs() -> tuple[dict[str, str] | None, str | None]:
    """Both BPF programs as hex, or (None, the reason) where seccomp is not available."""
    if sys.platform != "linux":
        return None, "no seccomp on this platform"
    try:
        import pyseccomp
    except ImportError:
        return None, "no seccomp filter (pyseccomp is not installed: pip install pyseccomp)"
    except (RuntimeError, OSError) as exc:
        return None, f"no seccomp filter (libseccomp not found: {exc}; install libseccomp2)"
    try:
        return {variant: _program(pyseccomp, shared=variant == "shared_pid_namespace").hex()
                for variant in ("nested_pid_namespace", "shared_pid_namespace")}, None
    except OSError as exc:
        return None, f"no seccomp filter (libseccomp failed to build it: {exc})"


def _program(seccomp, shared: bool) -> bytes:
    rules = seccomp.SyscallFilter(seccomp.ALLOW)
    rules.set_attr(seccomp.Attr.ACT_BADARCH, seccomp.KILL_PROCESS)
    refuse = seccomp.ERRNO(errno.EPERM)
    for name in _DENIED + (_SIGNALLING if shared else ()):
        _add(rules, refuse, name)
    _add(rules, seccomp.ERRNO(errno.ENOSYS), "clone3")
    for flag in _NAMESPACE_FLAGS:
        _add(rules, refuse, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
    _add(rules, refuse, "prlimit64", seccomp.Arg(0, seccomp.NE, 0))
    if shared:
        _add(rules, refuse, "kill", seccomp.Arg(0, seccomp.NE, 0))
    unsupported = seccomp.ERRNO(errno.EAFNOSUPPORT)
    for family in [0, *range(3, 10)]:
        _add(rules, unsupported, "socket", seccomp.Arg(0, seccomp.EQ, family))
    _add(rules, unsupported, "socket", seccomp.Arg(0, seccomp.GT, max(_ALLOWED_FAMILIES)))
    for family in (2, 10):
        for kind in _RAW_TYPES:
            _add(rules, refuse, "socket", seccomp.Arg(0, seccomp.EQ, family), seccomp.Arg(1, seccomp.MASKED_EQ, 0xF, kind))
    for request in _TERMINAL_IOCTLS:
        _add(rules, refuse, "ioctl", seccomp.Arg(1, seccomp.EQ, request))
    with tempfile.TemporaryFile() as handle:
        rules.export_bpf(handle)
        handle.seek(0)
        program = handle.read()
    if not program or len(program) % 8:
        raise OSError(0, "libseccomp exported no BPF program")
    return program


def _add(rules, action: int, name: str, *args) -> None:
    try:
        rules.add_rule(action, name, *args)
    except (OSError, ValueError) as exc:
        if _known(name):
            raise OSError(getattr(exc, "errno", 0) or 0, f"rule for {name}: {exc}") from None
        # a system call this architecture does not have: nothing to refuse


def _known(name: str) -> bool:
    import pyseccomp

    try:
        return pyseccomp.resolve_syscall(pyseccomp.Arch.NATIVE, name) >= 0
    except (OSError, ValueError):
        return False
