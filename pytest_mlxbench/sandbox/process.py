"""The parent's handle on one worker process tree: start it, hand it jobs, collect answers.

Per job, fresh pipes carry the candidate's source and (in judge mode) the check to the worker
and the judge's result back; their far ends travel as descriptors on the control socket, so
the worker passes them on unread. The parent never blocks without a deadline: a worker that
does not answer within the job's timeout plus a grace period is killed and replaced.
"""

from __future__ import annotations

import dataclasses
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time

from pytest_mlxbench.sandbox import host, verdicts
from pytest_mlxbench.sandbox.spec import (
    Check,
    Isolation,
    Limits,
    SandboxError,
    SandboxResult,
)
from pytest_mlxbench.sandbox.worker import codec

WORKER_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "worker", "main.py")
_REPLY_GRACE_S = 15.0
_START_TIMEOUT_S = 30.0
_DARWIN_PROFILE = "(version 1)(allow default)(deny network*)"


@dataclasses.dataclass(frozen=True)
class WorkerSetup:
    """What every worker of one Sandbox shares; ``cgroups`` is this worker's own directories."""

    base_dir: str
    janitor: object
    cgroups: dict
    cgroup_notes: tuple[str, ...]
    seccomp: dict | None
    seccomp_note: str | None


class WorkerProcess:
    def __init__(self, setup: WorkerSetup) -> None:
        self._setup = setup
        self._leases = [host.UidLease(), host.UidLease()] if host.is_root() else []
        self._process: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None
        self._log = tempfile.TemporaryFile()
        self._buffer = b""
        self.isolation = Isolation(False, False, False, False)
        self._start()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def _config(self) -> dict:
        candidate_uid, judge_uid = (lease.uid for lease in self._leases) if self._leases else (None, None)
        rootless_linux = candidate_uid is None and sys.platform == "linux"
        return {
            "uids": {"candidate": candidate_uid, "judge": judge_uid},
            "base_dir": self._setup.base_dir,
            "cgroups": self._setup.cgroups,
            "cgroup_notes": list(self._setup.cgroup_notes),
            "seccomp": self._setup.seccomp,
            "seccomp_note": self._setup.seccomp_note,
            "nproc_base": host.user_task_count() if rootless_linux else 0,
        }

    def _start(self) -> None:
        self._control, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        command = [host.worker_interpreter(), "-I", "-S", "-B", WORKER_SCRIPT, str(child.fileno())]
        if sys.platform == "darwin":
            command = ["sandbox-exec", "-p", _DARWIN_PROFILE, *command]
        self._log.seek(0)
        self._log.truncate()
        try:
            self._process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._log,
                pass_fds=(child.fileno(),), env=host.clean_env(), cwd="/", start_new_session=True,
            )
        finally:
            child.close()
        self._control.sendall((json.dumps(self._config()) + "\n").encode())

    def wait_ready(self) -> None:
        message = self._read_line(time.monotonic() + _START_TIMEOUT_S)
        if message is None or not message.get("ready"):
            self._kill()
            raise RuntimeError(f"sandbox worker failed to start: {self._log_tail() or 'no output'}")
        report = message["isolation"]
        self.isolation = Isolation(**{**report, "notes": tuple(report["notes"])})

    def run(self, source: str, check: Check | None, timeout_s: float, limits: Limits) -> SandboxResult:
        if self._process is None:
            self._start()
            self.wait_ready()
        payload = _check_payload(check, limits) if check is not None else None
        job = {"mode": "judge" if check else "in_process", "timeout_s": timeout_s,
               "limits": dataclasses.asdict(limits), "message_bytes": limits.message_bytes}
        reply, result = self._exchange(job, source.encode("utf-8", "surrogatepass"), payload,
                                       time.monotonic() + timeout_s + _REPLY_GRACE_S, limits)
        if reply is None:
            detail = f"sandbox worker stopped answering ({self._log_tail() or 'no log'})"
            self._kill()  # the next job starts a fresh worker
            raise SandboxError(detail)  # our machinery failed: a harness error, not the candidate's verdict
        if reply.get("job_dir"):
            self._setup.janitor.remove(reply["job_dir"])
        if check is None:
            return verdicts.in_process_result(reply, limits)
        return verdicts.judged_result(reply, _decode_result(result), limits)

    def _exchange(self, job: dict, source: bytes, payload: bytes | None, deadline: float, limits: Limits):
        """Send the job, feed its pipes, read the zygote's reply and the judge's result."""
        source_r, source_w = os.pipe()
        sends, outgoing = [source_r], {source_w: memoryview(source)}
        result_r = None
        if payload is not None:
            check_r, check_w = os.pipe()
            result_r, result_w = os.pipe()
            sends += [check_r, result_w]
            outgoing[check_w] = memoryview(payload)
        try:
            socket.send_fds(self._control, [(json.dumps(job) + "\n").encode()], sends)
        except OSError:
            deadline = 0.0  # the worker is gone: no reply will come
        finally:
            for fd in sends:
                os.close(fd)
        for fd in outgoing:
            os.set_blocking(fd, False)
        try:
            return self._pump(outgoing, result_r, deadline, limits)
        finally:
            for fd in [*outgoing, *([result_r] if result_r is not None else [])]:
                os.close(fd)

    def _pump(self, outgoing: dict, result_r: int | None, deadline: float, limits: Limits):
        reply, result, result_open = None, bytearray(), result_r is not None
        poll = sys.platform == "darwin"
        while reply is None or result_open:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return reply, bytes(result)
            readers = [self._control] if reply is None else []
            readers += [result_r] if result_open else []
            writers = list(outgoing)
            ready_r, ready_w, _ = select.select(readers, writers, [], min(remaining, 0.1) if poll else remaining)
            if poll:
                _kill_if_over_memory(self._process, limits)
            for fd in ready_w:
                outgoing[fd] = _write_some(fd, outgoing[fd])
                if not outgoing[fd]:
                    os.close(fd)  # EOF tells the reader the whole text has come
                    del outgoing[fd]
            if self._control in ready_r:
                reply = self._read_reply_chunk()
                if reply is None and self._control is None:
                    return None, bytes(result)
                if reply is not None:
                    deadline = min(deadline, time.monotonic() + 2.0)  # the judge is done: its result pipe ends now
            if result_open and result_r in ready_r:
                chunk = os.read(result_r, 1 << 20)
                result += chunk
                result_open = bool(chunk)
        return reply, bytes(result)

    def _read_reply_chunk(self) -> dict | None:
        chunk = self._control.recv(65536)
        if not chunk:
            self._control.close()
            self._control = None
            return None
        self._buffer += chunk
        if b"\n" not in self._buffer:
            return None
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def _read_line(self, deadline: float) -> dict | None:
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self._control], [], [], remaining)[0]:
                return None
            chunk = self._control.recv(65536)
            if not chunk:
                return None
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def _log_tail(self) -> str:
        self._log.seek(0, os.SEEK_END)
        size = self._log.tell()
        self._log.seek(max(0, size - 600))
        text = self._log.read().decode("utf-8", "replace").strip()
        return text.splitlines()[-1] if text else ""

    def _kill(self) -> None:
        if self._process is not None:
            try:
                os.killpg(self._process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self._process.wait()
            self._process = None
        if self._control is not None:
            self._control.close()
            self._control = None
        self._buffer = b""

    def close(self) -> None:
        if self._process is not None and self._control is not None:
            self._control.shutdown(socket.SHUT_WR)  # EOF: the zygote exits, taking its namespace down
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        self._kill()
        for lease in self._leases:
            lease.release()
        self._leases = []
        self._log.close()


def _check_payload(check: Check, limits: Limits) -> bytes:
    fields = {"context": check.context, "test": check.test, "entry_point": check.entry_point,
              "expose": list(check.expose), "data": check.data, "call_timeout_s": check.call_timeout_s,
              "message_bytes": limits.message_bytes}
    try:
        return codec.encode(fields)
    except codec.Unencodable as exc:
        raise ValueError(f"Check.data must be plain data: {exc}") from None


def _decode_result(result: bytes) -> dict | None:
    if len(result) < 4:
        return None
    try:
        decoded = codec.decode(result[4:4 + int.from_bytes(result[:4], "little")])
    except codec.DecodeError:
        return None
    return decoded if isinstance(decoded, dict) else None


def _write_some(fd: int, data: memoryview) -> memoryview:
    try:
        written = os.write(fd, data[: 1 << 16])
    except BlockingIOError:
        return data
    except OSError:
        return memoryview(b"")  # the reader is gone (the job ended early)
    return data[written:]


def _kill_if_over_memory(process: subprocess.Popen[bytes] | None, limits: Limits) -> None:
    """macOS only: RLIMIT_AS is not enforced there, so watch the candidates' RSS instead."""
    import psutil

    if process is None:
        return
    try:
        for child in psutil.Process(process.pid).children(recursive=True):
            if child.memory_info().rss > limits.address_space_bytes:
                child.kill()
    except psutil.Error:
        pass
