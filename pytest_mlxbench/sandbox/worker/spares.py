"""Spare processes: the zygote forks the next candidate and the next judge as soon as a job is
answered, and each does its slow, job-independent set-up (cgroup membership, new PID, mount and
IPC namespaces, /proc; for the judge its uid and seccomp) while the parent prepares the next job.
A job then only hands each spare its descriptors and limits over a private socket.

A spare candidate keeps its privileges until its job arrives (to mount the job's tmpfs with the
job's size and set the job's limits), then drops them for good before reading its program.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys

import candidate
import cgroup
import codec
import confine
import judge

_CANDIDATE_NS = confine.CLONE_NEWNS | confine.CLONE_NEWIPC
_JUDGE_ADDRESS_SPACE = 8 << 30
_JUDGE_PROCESSES = 64


class Spare:
    """The zygote's end of one spare process (or of the judge, which serves job after job)."""

    def __init__(self, pid: int, channel: socket.socket) -> None:
        self.pid = pid
        self.slot = 0  # which of the worker's cgroups a candidate joined
        self.channel = channel

    def start(self, message: dict, fds: list[int], keep: bool = False) -> bool:
        """Hand over a job; False if the process is gone. ``keep`` the channel for the next job."""
        try:
            socket.send_fds(self.channel, [(json.dumps(message) + "\n").encode()], fds)
            return True
        except OSError:
            return False
        finally:
            if not keep:
                self.channel.close()

    def finished(self) -> bool:
        """After its channel became readable: whether the judge reported a job done."""
        try:
            return self.channel.recv(64) == b"done\n"
        except OSError:
            return False


def _fork(libc, run_child) -> Spare:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pid = os.fork()
    if pid == 0:
        ours.close()
        try:
            if libc is not None:
                libc.prctl(confine.PR_SET_PDEATHSIG, signal.SIGKILL)  # never outlive the zygote
            run_child(theirs)
        except BaseException:  # noqa: BLE001 - never run anything half-confined
            setup_failed()
        os._exit(candidate.EXIT_SETUP)
    theirs.close()
    return Spare(pid, ours)


def _receive(channel: socket.socket) -> tuple[dict, list[int]]:
    data, fds, _, _ = socket.recv_fds(channel, 65536, 8)
    while data and not data.endswith(b"\n"):
        more, extra, _, _ = socket.recv_fds(channel, 65536, 8)
        data, fds = data + more, fds + extra
        if not more:
            break
    if not data.endswith(b"\n"):
        os._exit(0)  # the zygote is gone or gave up on us
    return json.loads(data), fds


# ----------------------------------------------------------------------------- judge


def fork_judge(libc, uid: int | None, user_namespace: bool, nproc_base: int, seccomp: bytes | None) -> Spare:
    """The worker's judge: confined once (its own uid as root, non-dumpable, seccomp), then it
    serves jobs until its channel closes. A job's descriptors become 1 and 2 (its stderr) and
    3 to 6 (see ``judge``); it answers ``done`` on the channel when the result is written."""
    def child(channel: socket.socket) -> None:
        confine.restore_signals()
        os.setpgid(0, 0)
        confine.apply_limits(None, _JUDGE_ADDRESS_SPACE, nproc_base + _JUDGE_PROCESSES, 1)
        confine.drop_privileges(libc, uid, user_namespace)
        if libc is not None:
            libc.prctl(confine.PR_SET_DUMPABLE, 0)  # no ptrace, no /proc/<pid>/fd or mem for same-uid code
        os.chdir("/")
        if seccomp is not None:
            libc.load_seccomp(seccomp)
        channel = socket.socket(fileno=confine.keep_only([0, 1, 2], channel.detach()))
        while True:
            _, fds = _receive(channel)
            confine.place_fds(dict(zip((1, 2, 3, 4, 5, 6), fds[:1] + fds)))
            judge.run_job()
            _flush()
            confine.place_fds({1: os.open(os.devnull, os.O_WRONLY)})
            os.dup2(1, 2)
            os.closerange(3, 7)
            channel.sendall(b"done\n")

    return _fork(libc, child)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass


# ----------------------------------------------------------------------------- candidate


def fork_candidate(libc, layout: dict, config: dict, procs: list[int]) -> Spare:
    """``layout`` and ``config`` as the zygote has them; ``procs`` joins the worker's cgroup."""
    own_namespace = layout["pid_ns_fd"] is not None
    if own_namespace:
        libc.unshare(confine.CLONE_NEWPID)  # the next child is PID 1 of a namespace of its own
    try:
        return _fork(libc, lambda channel: _candidate_child(channel, libc, layout, config, procs))
    finally:
        if own_namespace:
            libc.setns(layout["pid_ns_fd"], confine.CLONE_NEWPID)


def _candidate_child(channel: socket.socket, libc, layout: dict, config: dict, procs: list[int]) -> None:
    confine.restore_signals()
    os.setpgid(0, 0)
    cgroup.join(procs)
    if layout["job_mount"] is not None:
        libc.unshare(_CANDIDATE_NS)
        if layout["pid_ns_fd"] is not None and layout["own_proc"]:
            libc.mount("proc", "/proc", "proc", confine.MS_NOSUID | confine.MS_NODEV | confine.MS_NOEXEC)
    job, fds = _receive(channel)
    channel.close()
    limits = job["limits"]
    uid = config["uids"]["candidate"]
    job_dir = job["job_dir"] or layout["job_mount"]
    if layout["job_mount"] is not None:
        owner = uid if uid is not None else os.getuid()
        libc.mount("tmpfs", job_dir, "tmpfs", confine.MS_NOSUID | confine.MS_NODEV | confine.MS_NOEXEC,
                   f"size={limits['disk_bytes']},nr_inodes={limits['max_files']},mode=0700,uid={owner},gid={owner}")
    confine.apply_limits(limits["cpu_seconds"], limits["address_space_bytes"],
                         config["nproc_base"] + limits["max_processes"], limits["file_size_bytes"])
    os.chdir(job_dir)
    os.umask(0o077)
    os.environ.update(HOME=job_dir, TMPDIR=job_dir)
    source_fd, *installed = fds
    confine.drop_privileges(libc, uid, layout["user_namespace"])
    if layout["seccomp"] is not None:
        libc.load_seccomp(layout["seccomp"])
    source = codec.read_to_end(source_fd).decode("utf-8", "replace")
    confine.install_fds(installed)
    if job["mode"] == "judge":
        candidate.serve(source, job["message_bytes"])
    candidate.run_in_process(source)


def setup_failed() -> None:
    import traceback

    traceback.print_exc()
    os._exit(candidate.EXIT_SETUP)
