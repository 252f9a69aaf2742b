"""The allow-list root: a fresh tmpfs holding read-only binds of what the interpreter needs, then
``pivot_root`` into it, so nothing else of the machine exists for candidates or judges.

What it holds: the interpreter executable, its standard library and shared-library directories
(``sysconfig`` paths), ``/lib*`` and ``/usr/lib*``, the directories of every file the worker has
mapped, ``/etc/ld.so.cache`` and ``/etc/localtime``, a generated ``/etc/passwd`` and ``/etc/group``,
``/dev/null``, ``/dev/zero``, ``/dev/random``, ``/dev/urandom``, an empty ``/job`` (each candidate
mounts its own size- and inode-limited tmpfs there) with ``/tmp`` pointing at it, and ``/proc``.
Everything is read-only except the candidate's ``/job``. Not there: the project, home
directories, the system's temporary and run-time directories, ``/srv``, ``/opt``, ``/var``, any
``.env``; program source never passes through a directory at all (it arrives over a pipe).
"""

from __future__ import annotations

import os
import sys
import sysconfig

from confine import (
    MNT_DETACH,
    MS_BIND,
    MS_KEEP_ON_REMOUNT,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_PRIVATE,
    MS_RDONLY,
    MS_REC,
    MS_REMOUNT,
    Libc,
)

JOB_DIR = "/job"
_SYSTEM_LIBRARIES = ("/lib", "/lib64", "/lib32", "/usr/lib", "/usr/lib64", "/usr/lib32", "/usr/local/lib")
_ETC_FILES = ("/etc/ld.so.cache", "/etc/localtime")
_DEVICES = ("null", "zero", "random", "urandom")


def allowed_paths() -> list[str]:
    """Real paths to bind read-only, none inside another: the executable itself (not its
    directory), the stdlib, and the directories of shared libraries."""
    wanted = {os.path.realpath(sys.executable)}
    for key in ("stdlib", "platstdlib"):
        wanted.add(sysconfig.get_path(key))
    libdir = sysconfig.get_config_var("LIBDIR")
    if libdir:
        wanted.add(libdir)
    wanted.update(_mapped_directories())
    wanted.update(path for path in _SYSTEM_LIBRARIES if os.path.exists(path))
    real = sorted({os.path.realpath(path) for path in wanted if path and os.path.exists(path)})
    return [path for path in real if not any(path.startswith(other + os.sep) for other in real if other != path)]


def _mapped_directories() -> set[str]:
    try:
        with open("/proc/self/maps") as maps:
            files = {line.split(None, 5)[5].strip() for line in maps if len(line.split(None, 5)) == 6}
    except OSError:
        return set()
    libraries = [path for path in files if path.startswith("/") and ".so" in os.path.basename(path)]
    return {os.path.dirname(path) for path in libraries if os.path.isfile(path)}


def symlinks_to_recreate(paths: list[str]) -> dict[str, str]:
    """Symlinks on the way to the allowed paths (e.g. ``/lib -> usr/lib``), so both spellings work."""
    links = {}
    for path in [*_SYSTEM_LIBRARIES, *_ETC_FILES, sys.executable, *paths]:
        current = "/"
        for part in os.path.abspath(path).strip("/").split("/"):
            current = os.path.join(current, part)
            if os.path.islink(current):
                links[current] = os.readlink(current)
                break
    return links


def build_and_enter(libc: Libc, stage: str, uids: dict[str, int]) -> None:
    """Build the root on ``stage`` (an existing empty directory) and pivot into it."""
    libc.mount(None, "/", None, MS_REC | MS_PRIVATE)
    libc.mount("tmpfs", stage, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=4m,nr_inodes=8192")
    paths = allowed_paths()
    for path in paths:
        _bind_read_only(libc, path, stage + path)
    for path in _ETC_FILES:
        if os.path.isfile(path):
            _bind_read_only(libc, os.path.realpath(path), stage + path)
    for link, target in symlinks_to_recreate(paths).items():
        if not os.path.lexists(stage + link):
            os.makedirs(os.path.dirname(stage + link), mode=0o755, exist_ok=True)
            os.symlink(target, stage + link)
    _populate_dev(libc, stage)
    _write_identity_files(stage, uids)
    for directory in (JOB_DIR, "/proc"):
        os.makedirs(stage + directory, mode=0o755, exist_ok=True)
    os.symlink(JOB_DIR.lstrip("/"), stage + "/tmp")
    libc.mount("proc", stage + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    os.chdir(stage)
    libc.pivot_root(".", ".")  # the old root is stacked on top of the new one ...
    libc.umount(".", MNT_DETACH)  # ... and detached, leaving only the new root
    os.chdir("/")
    libc.mount(None, "/", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _bind_read_only(libc: Libc, source: str, target: str) -> None:
    if os.path.isdir(source):
        os.makedirs(target, mode=0o755, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
        if not os.path.exists(target):
            os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o644))
    libc.mount(source, target, None, MS_BIND)
    kept = os.statvfs(source).f_flag & MS_KEEP_ON_REMOUNT  # flags a user namespace may not drop
    libc.mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | kept)


def _populate_dev(libc: Libc, stage: str) -> None:
    os.makedirs(stage + "/dev", mode=0o755)
    for name in _DEVICES:
        target = f"{stage}/dev/{name}"
        os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o666))
        libc.mount(f"/dev/{name}", target, None, MS_BIND)
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                         ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"{stage}/dev/{name}")


def _write_identity_files(stage: str, uids: dict[str, int]) -> None:
    os.makedirs(stage + "/etc", mode=0o755, exist_ok=True)
    users = {"root": 0, **uids}
    passwd = "".join(f"{name}:x:{uid}:{uid}:{name}:{JOB_DIR}:/usr/sbin/nologin\n" for name, uid in users.items())
    groups = "".join(f"{name}:x:{uid}:\n" for name, uid in users.items())
    for name, text in (("passwd", passwd), ("group", groups)):
        with open(f"{stage}/etc/{name}", "w") as handle:
            handle.write(text)
