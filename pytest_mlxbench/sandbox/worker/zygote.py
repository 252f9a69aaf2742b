"""The zygote: receives jobs from the parent, hands each to a spare judge and a spare
candidate (never running code of either itself), watches them, sweeps and answers.

A job arrives on the control socket as one JSON line with descriptors attached: the read end of
the pipe carrying the candidate's source, and in judge mode the read end of the check and the
write end of the result (both to the parent). The zygote passes them on unread, so neither the
program nor the test code and its expected values ever sit in the zygote's memory, from which
every later candidate is forked.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import time

import cgroup
import spares
from watch import Watch, kill_tree, reap_all, signal_quietly


class Zygote:
    def __init__(self, config: dict, libc, cgroups: list[cgroup.WorkerCgroup], layout: dict) -> None:
        """``layout``: pid_namespace (the worker has its own, bool), pid_ns_fd (descriptor of it
        when each candidate gets a nested one, else None), own_proc (mount /proc per candidate),
        job_mount (where each candidate's tmpfs goes, or None without mount namespaces),
        user_namespace (bool), seccomp (the BPF program, or None)."""
        self._config = config
        self._libc = libc
        self._cgroups = cgroups
        self._layout = layout
        self._control = socket.socket(fileno=config["control_fd"])
        self._buffer = b""
        self._sequence = 0
        self._next_slot = 0
        self._candidate: spares.Spare | None = None
        self._judge: spares.Spare | None = None
        self._dying: dict[int, int] = {}  # killed, not yet reaped: pid -> cgroup slot

    def serve(self, ready: dict) -> None:
        self._prepare_spares()
        self._send(ready)
        while (received := self._next_job()) is not None:
            job, fds = received
            self._send(self._run(job, fds))

    def _next_job(self) -> tuple[dict, list[int]] | None:
        fds: list[int] = []
        while b"\n" not in self._buffer:
            data, received, _, _ = socket.recv_fds(self._control, 65536, 8)
            fds.extend(received)
            if not data:
                return None
            self._buffer += data
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line), fds

    def _send(self, message: dict) -> None:
        self._control.sendall((json.dumps(message) + "\n").encode())

    def _prepare_spares(self, slot: int | None = None) -> None:
        """The next candidate and judge, set up while the current job runs (see ``spares``). The
        spare candidate joins the cgroup the current candidate is not in (or ``slot``, when it
        replaces a spare that died)."""
        if self._candidate is None:
            if slot is None:
                slot, self._next_slot = self._next_slot, (self._next_slot + 1) % len(self._cgroups)
            procs = self._cgroups[slot].procs_fds()
            try:
                self._candidate = spares.fork_candidate(self._libc, self._layout, self._config, procs)
                self._candidate.slot = slot
            finally:
                for fd in procs:
                    os.close(fd)
        if self._judge is None:
            self._judge = spares.fork_judge(self._libc, self._config["uids"]["judge"], self._layout["user_namespace"],
                                            self._config["nproc_base"], self._layout["seccomp"])

    def _hand_over(self, which: str, message: dict, fds: list[int]) -> spares.Spare:
        """Give the job to the spare candidate or the judge; should it have died, to a fresh one."""
        for _ in range(2):
            process = getattr(self, "_" + which)
            keep = which == "judge"
            if process.start(message, fds, keep=keep):
                if not keep:
                    self._candidate = None
                return process
            self._retire(which)
            self._prepare_spares(slot=process.slot)
        raise OSError(0, f"no {which} process could be started")

    def _retire(self, which: str) -> None:
        """Kill the judge (or spare candidate) and make way for a fresh one."""
        process = getattr(self, "_" + which)
        setattr(self, "_" + which, None)
        signal_quietly(-process.pid)
        signal_quietly(process.pid)
        process.channel.close()
        self._dying[process.pid] = None

    def _run(self, job: dict, fds: list[int]) -> dict:
        self._sequence += 1
        limits = job["limits"]
        self._reap(slot=self._candidate.slot)
        cgroups = self._cgroups[self._candidate.slot]
        cgroups.set_limits(limits["address_space_bytes"], limits["max_processes"])
        oom_before = cgroups.oom_kills()
        job_dir = self._flat_job_dir() if self._layout["job_mount"] is None else None
        started = time.monotonic()
        watch = Watch(limits["output_bytes"], self._control.fileno())
        if job["mode"] == "judge":
            outcome = self._judged(job, fds, job_dir, watch, started)
        else:
            outcome = self._in_process(job, fds, job_dir, watch, started)
        if outcome["stop"] == "parent gone":
            os._exit(0)
        oom_after = cgroups.oom_kills()
        return {**outcome, "job_dir": job_dir, "peak_memory_bytes": cgroups.peak_memory(),
                "oom_kills": None if oom_before is None or oom_after is None else oom_after - oom_before}

    # --------------------------------------------------------------------- the two modes

    def _judged(self, job: dict, fds: list[int], job_dir, watch: Watch, started: float) -> dict:
        source_fd, check_fd, result_fd = fds
        calls_r, calls_w = os.pipe()
        answers_r, answers_w = os.pipe()
        judge_err_r, judge_err_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        judge = self._hand_over("judge", {}, [judge_err_w, check_fd, result_fd, calls_w, answers_r])
        candidate = self._hand_over("candidate", {**job, "job_dir": job_dir},
                                    [source_fd, out_w, err_w, calls_r, answers_w])
        for fd in (*fds, calls_r, calls_w, answers_r, answers_w, judge_err_w, out_w, err_w):
            os.close(fd)
        self._prepare_spares()
        watch.add_pipe(out_r, "stdout")
        watch.add_pipe(err_r, "stderr")
        watch.add_pipe(judge_err_r, "judge", counted=False)
        watch.add_signal(judge.channel.fileno())
        watch.add_process(candidate.pid, ends_job=False)
        watch.add_process(judge.pid, ends_job=True)
        stop = watch.wait(started + job["timeout_s"], on_exit=self._sweep)
        duration = time.monotonic() - started
        candidate_status = self._stop(candidate.pid, watch, slot=candidate.slot)
        judge_status = self._judge_after(judge, stop, watch)
        watch.drain()
        return {"mode": "judge", "stop": stop, "duration_s": round(duration, 6), "candidate": candidate_status,
                "judge": judge_status, "stdout_tail": watch.text("stdout"), "stderr_tail": watch.text("stderr"),
                "judge_stderr_tail": watch.text("judge")}

    def _judge_after(self, judge: spares.Spare, stop: str, watch: Watch) -> dict | None:
        """The judge goes on to the next job if it finished this one; otherwise it is replaced."""
        if stop == "done" and not watch.has_exited(judge.pid) and judge.finished():
            return None
        exited = watch.has_exited(judge.pid)
        self._judge = judge
        self._retire("judge")
        self._prepare_spares()
        if not exited:
            return {"exited_before": False, "exit_code": None, "signal": None}
        _, status = os.waitpid(judge.pid, 0)
        del self._dying[judge.pid]
        code = os.waitstatus_to_exitcode(status)
        return {"exited_before": True, "exit_code": code if code >= 0 else None,
                "signal": _signal_name(-code) if code < 0 else None}

    def _in_process(self, job: dict, fds: list[int], job_dir, watch: Watch, started: float) -> dict:
        [source_fd] = fds
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        nonce_r, nonce_w = os.pipe()
        result_r, result_w = os.pipe()
        candidate = self._hand_over("candidate", {**job, "job_dir": job_dir},
                                    [source_fd, out_w, err_w, nonce_r, result_w])
        for fd in (source_fd, out_w, err_w, nonce_r, result_w):
            os.close(fd)
        self._prepare_spares()
        nonce = os.urandom(16).hex().encode()  # drawn now: never in the candidate's memory
        try:
            os.write(nonce_w, nonce)
        except OSError:
            pass  # the candidate closed its end already; it cannot pass then
        os.close(nonce_w)
        watch.add_pipe(out_r, "stdout")
        watch.add_pipe(err_r, "stderr")
        watch.add_pipe(result_r, "result")
        watch.add_process(candidate.pid, ends_job=True)
        stop = watch.wait(started + job["timeout_s"])
        duration = time.monotonic() - started
        status = self._stop(candidate.pid, watch, slot=candidate.slot)
        watch.drain()
        proof = bytes(watch.tails["result"])
        summary = proof[1:].decode("utf-8", "replace").strip() if proof.startswith(b"F") else ""
        return {"mode": "in_process", "stop": stop, "duration_s": round(duration, 6), "candidate": status,
                "judge": None, "stdout_tail": watch.text("stdout"), "stderr_tail": watch.text("stderr"),
                "judge_stderr_tail": "", "proof_ok": proof == nonce, "failure_summary": summary}

    # --------------------------------------------------------------------- ending processes

    def _sweep(self, pid: int) -> None:
        """End whatever the candidate left behind. With a PID namespace of its own, everything
        died with it; otherwise find its processes (group, uid, descendants but ours)."""
        if self._layout["pid_ns_fd"] is None:
            ours = [process.pid for process in (self._judge, self._candidate) if process is not None]
            kill_tree(pid, self._config["uids"]["candidate"], spare=(*ours, *self._dying))

    def _stop(self, pid: int, watch: Watch, slot: int | None = None) -> dict:
        """SIGKILL the process and what it left behind; report how it ended. One that ended on
        its own is reaped now. One we killed is left to die (tearing down its namespaces takes a
        while) and reaped later: before its cgroup is used again, or whenever we pass by."""
        exited_before = watch.has_exited(pid)
        signal_quietly(-pid)  # its process group (the judge's, or the candidate's without a namespace)
        signal_quietly(pid)
        self._sweep(pid)
        if not exited_before:
            self._dying[pid] = slot
            return {"exited_before": False, "exit_code": None, "signal": None, "cpu_s": None}
        _, status, usage = os.wait4(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        return {"exited_before": True, "exit_code": code if code >= 0 else None,
                "signal": _signal_name(-code) if code < 0 else None,
                "cpu_s": round(usage.ru_utime + usage.ru_stime, 6)}

    def _reap(self, slot: int) -> None:
        """Reap the dying; wait for those still in cgroup ``slot``, which is about to be reused."""
        for pid, their_slot in list(self._dying.items()):
            try:
                if not os.waitpid(pid, 0 if their_slot == slot else os.WNOHANG)[0]:
                    continue
            except ChildProcessError:
                pass  # reaped already
            del self._dying[pid]
        if self._layout["pid_namespace"] and os.getpid() == 1:
            reap_all(except_=set(self._dying))  # orphans reparented to us, the namespace's init

    def _flat_job_dir(self) -> str:
        """Without a mount namespace: a fresh directory (the parent removes it afterwards)."""
        path = os.path.join(self._config["base_dir"], f"job-{os.getpid()}-{self._sequence}")
        os.mkdir(path, 0o700)
        uid = self._config["uids"]["candidate"]
        if uid is not None:
            os.chown(path, uid, uid)
        return path


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
