"""Entry point of a sandbox worker: ``python -I -S -B main.py CONTROL_FD``; the configuration
comes as the first line on the control socket (not on the command line, which candidates can
read in /proc).

Stdlib only, run without site-packages. Sets up what lasts for the worker's life (namespaces,
the allow-list root, cgroup descriptors, the seccomp program, probes of each), says which
protections are in force, then hands over to the zygote. Anything that cannot be set up is
left out with its reason in ``notes``, never silently.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cgroup  # noqa: E402
import confine  # noqa: E402
import zygote  # noqa: E402

_WARM_MODULES = (
    "typing", "math", "re", "collections", "itertools", "functools", "string", "hashlib", "random", "copy",
    "heapq", "bisect", "fractions", "traceback", "types", "fcntl", "resource", "struct", "select", "builtins",
)
_CANDIDATE_SECCOMP = {True: "nested_pid_namespace", False: "shared_pid_namespace"}


def main(config: dict) -> None:
    confine.ignore_signals()
    linux = sys.platform == "linux"
    libc = confine.Libc() if linux else None
    notes: list[str] = []
    namespaces = linux and _enter_namespaces(libc, config, notes)
    if not namespaces and config["uids"]["candidate"] is not None:
        _require_reachable_stdlib()
    if namespaces:
        _become_namespace_init(config)
        libc.prctl(confine.PR_SET_PDEATHSIG, signal.SIGKILL)
    elif linux:
        libc.prctl(confine.PR_SET_CHILD_SUBREAPER, 1)
    cgroups = _open_cgroups(config, notes)
    layout = {"pid_namespace": namespaces, "pid_ns_fd": None, "own_proc": False, "job_mount": None,
              "user_namespace": namespaces and config["uids"]["candidate"] is None, "seccomp": None}
    root_built = namespaces and _build_root(libc, config, layout, notes)
    if namespaces:
        layout["pid_ns_fd"] = _nested_pid_namespaces(libc, notes)
    if libc is not None:
        layout["seccomp"] = _seccomp_program(libc, config, layout["pid_ns_fd"] is not None, notes)
        _probe_cgroups(cgroups, notes)
    if sys.platform == "darwin":
        notes.append("macOS: network denied by sandbox-exec; memory limited by polling each process's RSS; "
                     "no namespaces, no cgroups, no seccomp, no filesystem allow-list")
    if config["uids"]["candidate"] is None:
        notes.append("not root: candidates and the judge run as the calling user")
    isolation = {
        "separate_uid": config["uids"]["candidate"] is not None,
        "judge_separate_uid": config["uids"]["judge"] is not None,
        "network_isolated": namespaces or sys.platform == "darwin",
        "pid_namespace": layout["pid_ns_fd"] is not None,
        "filesystem_protected": root_built,
        "ipc_namespace": layout["job_mount"] is not None,
        "disk_limited": layout["job_mount"] is not None,
        "seccomp": layout["seccomp"] is not None,
        "memory_cgroup": "memory" in cgroups[0].controllers,
        "pids_cgroup": "pids" in cgroups[0].controllers,
        "notes": notes,
    }
    for name in _WARM_MODULES:
        __import__(name)
    gc.collect()
    gc.freeze()  # children's garbage collections then leave the shared pages alone (no copy-on-write)
    zygote.Zygote(config, libc, cgroups, layout).serve({"ready": True, "isolation": isolation})


def _enter_namespaces(libc: confine.Libc, config: dict, notes: list[str]) -> bool:
    rootless = config["uids"]["candidate"] is None
    flags = confine.CLONE_NEWPID | confine.CLONE_NEWNET | confine.CLONE_NEWNS | confine.CLONE_NEWIPC
    real_uid, real_gid = os.getuid(), os.getgid()
    try:
        libc.unshare(flags | (confine.CLONE_NEWUSER if rootless else 0))
    except OSError as exc:
        notes.append(f"no namespaces ({exc.strerror}): network NOT isolated, no PID namespace, no filesystem "
                     "allow-list (other processes of the candidates' uid stay reachable through /proc), no "
                     "per-candidate IPC namespace or disk limit")
        return False
    if rootless:
        _write_file("/proc/self/setgroups", "deny")
        _write_file("/proc/self/uid_map", f"{real_uid} {real_uid} 1")
        _write_file("/proc/self/gid_map", f"{real_gid} {real_gid} 1")
    return True


def _require_reachable_stdlib() -> None:
    """Without a mount namespace the sandbox uids see the real filesystem: they must be able to
    read the interpreter's standard library (a pyenv under /root, say, they cannot)."""
    import sysconfig

    path = sysconfig.get_path("stdlib")
    while path != os.path.dirname(path):
        if not os.stat(path).st_mode & 0o001:
            raise SystemExit(f"the sandbox uid cannot reach the standard library under {path} and no mount "
                             "namespace is available to show it: use a Python installed in a world-readable place")
        path = os.path.dirname(path)


def _write_file(path: str, text: str) -> None:
    with open(path, "w") as handle:
        handle.write(text)


def _become_namespace_init(config: dict) -> None:
    """The first child after unshare(NEWPID) is PID 1 of the new namespace: it becomes the zygote."""
    pid = os.fork()
    if pid == 0:
        return
    os.close(config["control_fd"])
    _, status = os.waitpid(pid, 0)
    os._exit(os.waitstatus_to_exitcode(status) & 0xFF)


def _open_cgroups(config: dict, notes: list[str]) -> list[cgroup.WorkerCgroup]:
    """The worker's two cgroups (candidates use them in turn), or two empty stand-ins."""
    notes.extend(config.get("cgroup_notes") or ())
    slots = config.get("cgroups") or [{}, {}]
    try:
        return [cgroup.WorkerCgroup(slot) for slot in slots]
    except OSError as exc:
        notes.append(f"cgroups unusable ({exc.strerror}): memory is limited per process only, processes by RLIMIT_NPROC")
        return [cgroup.WorkerCgroup({}) for _ in slots]


def _build_root(libc: confine.Libc, config: dict, layout: dict, notes: list[str]) -> bool:
    import rootfs

    uids = {name: uid for name, uid in (("sandbox", config["uids"]["candidate"]), ("judge", config["uids"]["judge"]))
            if uid is not None}
    stage = os.path.join(config["base_dir"], f"root-{os.getpid()}-{os.urandom(4).hex()}")
    os.mkdir(stage, 0o700)
    try:
        rootfs.build_and_enter(libc, stage, uids)
    except OSError as exc:
        notes.append(f"no filesystem allow-list ({exc}): candidates see the machine's files their uid may read")
        layout["job_mount"] = stage  # still a private tmpfs per candidate, mounted here
        return False
    layout["job_mount"] = rootfs.JOB_DIR
    layout["own_proc"] = True
    return True


def _nested_pid_namespaces(libc: confine.Libc, notes: list[str]) -> int | None:
    """A descriptor of our PID namespace, to return to after each candidate got a nested one."""
    try:
        fd = os.open("/proc/self/ns/pid", os.O_RDONLY)
        libc.unshare(confine.CLONE_NEWPID)
        libc.setns(fd, confine.CLONE_NEWPID)
    except OSError as exc:
        notes.append(f"no PID namespace per candidate ({exc.strerror}): it shares one with the judge")
        return None
    return fd


def _seccomp_program(libc: confine.Libc, config: dict, nested: bool, notes: list[str]) -> bytes | None:
    programs = config.get("seccomp") or {}
    text = programs.get(_CANDIDATE_SECCOMP[nested])
    if not text:
        notes.append(config.get("seccomp_note") or "no seccomp filter")
        return None
    program = bytes.fromhex(text)
    if _in_child(lambda: (libc.prctl(confine.PR_SET_NO_NEW_PRIVS, 1), libc.load_seccomp(program))):
        return program
    notes.append("seccomp filter could not be loaded: socket families, keyrings, ptrace and namespaces are "
                 "NOT blocked")
    return None


def _probe_cgroups(cgroups: list[cgroup.WorkerCgroup], notes: list[str]) -> None:
    controllers = cgroups[0].controllers
    if not controllers:
        return
    for slot in cgroups:
        slot.set_limits(256 << 20, 16)
        procs = slot.procs_fds()
        joined = _in_child(lambda: cgroup.join(procs))
        for fd in procs:
            os.close(fd)
        if not joined:
            notes.append(f"cannot move candidates into the worker's cgroups ({', '.join(controllers)}): "
                         "memory is limited per process only, processes by RLIMIT_NPROC")
            for each in cgroups:
                each.disable()
            return


def _in_child(step) -> bool:
    """Whether ``step`` succeeds in a throwaway child process."""
    pid = os.fork()
    if pid == 0:
        try:
            step()
        except BaseException:  # noqa: BLE001
            os._exit(1)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def _read_config(control_fd: int) -> dict:
    data = b""
    while not data.endswith(b"\n"):
        chunk = os.read(control_fd, 65536)
        if not chunk:
            raise SystemExit("the sandbox's parent closed the control socket before sending the configuration")
        data += chunk
    return {**json.loads(data), "control_fd": control_fd}


if __name__ == "__main__":
    main(_read_config(int(sys.argv[1])))
