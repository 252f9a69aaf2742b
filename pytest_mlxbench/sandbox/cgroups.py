"""cgroups for the sandbox: one directory per worker, made *under this process's own cgroup*,
into which each candidate moves itself, so its memory and process limits count all of its
processes together (memfd, SysV shm and its tmpfs included).

cgroup v2 is used where our cgroup can delegate the memory and pids controllers to children
(its ``cgroup.subtree_control`` has them or takes them; the kernel refuses that while our own
cgroup holds processes, unless it is the root); cgroup v1 hierarchies where we may write them
(as root). Where neither works, the reason goes into the isolation notes and the limits stay per
process (RLIMIT_AS, RLIMIT_NPROC).
"""

from __future__ import annotations

import os
import time

CONTROLLERS = ("memory", "pids")
_PREFIX = "mlxbench-sandbox-"


class SandboxCgroups:
    """Creates the directories at start, removes them at :meth:`close`. Each worker gets two
    (``workers[i]`` is a list of two {controller: {"dir", "version"}}), used by its candidates
    in turn, so the next candidate can join one while the current one runs in the other."""

    SLOTS = 2

    def __init__(self, workers: int) -> None:
        self.notes: list[str] = []
        self._created: list[str] = []  # in creation order; removed in reverse
        self.workers: list[list[dict]] = [[{} for _ in range(self.SLOTS)] for _ in range(workers)]
        if not os.path.exists("/proc/self/cgroup"):
            return
        own, mounts = _own_cgroups(), _cgroup_mounts()
        tag = f"{_PREFIX}{os.getpid()}-{os.urandom(4).hex()}"
        done: set[str] = set()
        v2 = mounts.get("cgroup2")
        if v2 is not None and "" in own:
            done.update(self._try_v2(os.path.join(v2, own[""].lstrip("/")), tag))
        for controller in CONTROLLERS:
            if controller in done:
                continue
            mount = mounts.get(controller)
            if mount is None or controller not in own:
                self.notes.append(f"no {controller} cgroup: the controller is not available to this process")
                continue
            self._try_v1(controller, os.path.join(mount, own[controller].lstrip("/")), tag)

    def _try_v2(self, parent: str, tag: str) -> list[str]:
        available = _read(os.path.join(parent, "cgroup.controllers")).split()
        wanted = [c for c in CONTROLLERS if c in available]
        if not wanted:
            return []
        delegated = _read(os.path.join(parent, "cgroup.subtree_control")).split()
        try:
            missing = [c for c in wanted if c not in delegated]
            if missing:
                _write(os.path.join(parent, "cgroup.subtree_control"), " ".join(f"+{c}" for c in missing))
            base = self._make(os.path.join(parent, tag))
            _write(os.path.join(base, "cgroup.subtree_control"), " ".join(f"+{c}" for c in wanted))
            for index, worker in enumerate(self.workers):
                for slot, entry in zip("ab", worker):
                    directory = self._make(os.path.join(base, f"w{index}{slot}"))
                    entry.update({c: {"dir": directory, "version": 2} for c in wanted})
        except OSError as exc:
            self._undo()
            why = "our own cgroup holds processes" if exc.errno == 16 else exc.strerror
            self.notes.append(f"no cgroup v2 limits ({why}: cannot delegate {', '.join(wanted)} below {parent}); "
                              "start the run in a delegated cgroup of its own to get them")
            return []
        return wanted

    def _try_v1(self, controller: str, parent: str, tag: str) -> None:
        try:
            _remove_stale(parent)
            base = self._make(os.path.join(parent, tag))
            for index, worker in enumerate(self.workers):
                for slot, entry in zip("ab", worker):
                    entry[controller] = {"dir": self._make(os.path.join(base, f"w{index}{slot}")), "version": 1}
        except OSError as exc:
            for worker in self.workers:
                for entry in worker:
                    entry.pop(controller, None)
            self.notes.append(f"no {controller} cgroup ({exc.strerror} in {parent}): "
                              + ("memory is limited per process only" if controller == "memory"
                                 else "processes are limited by RLIMIT_NPROC only"))

    def _make(self, path: str) -> str:
        os.mkdir(path)
        self._created.append(path)
        return path

    def _undo(self) -> None:
        while self._created:
            _rmdir_patiently(self._created.pop())

    def close(self) -> None:
        """Remove every directory made (the workers are gone: nothing is left in them)."""
        self._undo()


def _own_cgroups() -> dict[str, str]:
    """Controller -> our path in its hierarchy; "" -> our cgroup v2 path."""
    own = {}
    with open("/proc/self/cgroup") as handle:
        for line in handle:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for controller in controllers.split(",") if controllers else [""]:
                own[controller] = path
    return own


def _cgroup_mounts() -> dict[str, str]:
    """Controller -> mount point of its v1 hierarchy; "cgroup2" -> the v2 mount point."""
    mounts = {}
    with open("/proc/self/mountinfo") as handle:
        for line in handle:
            before, _, after = line.partition(" - ")
            fstype, _, options = (after.split() + ["", "", ""])[:3]
            mount_point = before.split()[4]
            if fstype == "cgroup2":
                mounts.setdefault("cgroup2", mount_point)
            elif fstype == "cgroup":
                for option in options.split(","):
                    if option in CONTROLLERS:
                        mounts.setdefault(option, mount_point)
    return mounts


def _remove_stale(parent: str) -> None:
    """Directories left by sandboxes whose process is gone (killed before close)."""
    for name in os.listdir(parent):
        if not name.startswith(_PREFIX):
            continue
        pid = name[len(_PREFIX):].split("-")[0]
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            base = os.path.join(parent, name)
            for child in os.listdir(base):
                if os.path.isdir(os.path.join(base, child)):
                    _rmdir_patiently(os.path.join(base, child), attempts=1)
            _rmdir_patiently(base, attempts=1)


def _rmdir_patiently(path: str, attempts: int = 200) -> None:
    """rmdir of a cgroup fails while its last processes are still exiting: retry for a while."""
    for _ in range(attempts):
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.005)


def _read(path: str) -> str:
    try:
        with open(path) as handle:
            return handle.read()
    except OSError:
        return ""


def _write(path: str, text: str) -> None:
    with open(path, "w") as handle:
        handle.write(text)
