"""Run untrusted, model-written Python programs and say whether they passed.

Public API: :func:`run_program`, :func:`run_programs`, :class:`Sandbox` (a reusable pool),
:class:`Limits`, :class:`SandboxResult`, :class:`Isolation`, :func:`default_timeout`.

Design
======
Process layout (Linux)::

    pytest process (parent)  --job pipe-->  worker "outer" (root, own session)
                             <--reply pipe--     |  unshare(NEWPID|NEWNET|NEWNS|NEWIPC), fork
                                                 v
                                        worker "zygote" = PID 1 of a new PID namespace
                                                 |  fork per candidate (never runs candidate code)
                                                 v
                                        candidate: limits, setpgid, setuid(slot uid), run program

* Each worker is ``python -I -S -B sandbox.py --worker``: isolated mode, no site-packages, a
  scrubbed environment (PATH, LANG, HOME/TMPDIR set to the job dir; nothing else from the
  parent, so no API keys). The zygote pre-imports a few light stdlib modules (typing, re, ...)
  and then forks one fresh child per candidate: every candidate is its own process, starting
  from the same pristine interpreter state; nothing a candidate does flows back into the zygote.
  Forking instead of exec'ing a new interpreter is what makes the sandbox fast.
* Namespaces, set up once per worker: a new network namespace (only a downed loopback: no
  network at all), a new IPC namespace, a new PID namespace with its own /proc (candidates
  cannot see or name any process outside; when the zygote dies the kernel kills everything in
  the namespace) and a private mount namespace in which world-writable directories (/tmp,
  /var/tmp, /dev/shm, ...) are re-mounted read-only, except the sandbox's own job directory.
  If the interpreter lives under a directory other users cannot enter (e.g. a pyenv under
  /root), the mount namespace covers that directory with an empty tmpfs and binds only the
  interpreter's prefix into it, so the unprivileged candidate can import the stdlib while the
  rest of that directory stays hidden.
* Candidate process: its own process group; RLIMIT_CPU (SIGXCPU, then SIGKILL one second later),
  RLIMIT_AS, RLIMIT_NPROC, RLIMIT_FSIZE, RLIMIT_CORE=0; ``PR_SET_NO_NEW_PRIVS`` (setuid
  binaries gain nothing); when started as root, ``setgroups([])``/``setgid``/``setuid`` to a
  dedicated unused high uid per worker slot (61000 and up, leased with a lock file so parallel
  sessions never share one); that makes RLIMIT_NPROC exact and leaves the candidate unable to
  signal, ptrace or write into anything of ours. Its working directory (also HOME and TMPDIR)
  is a fresh temporary directory, removed afterwards (by a background thread, as rmdir can block
  on I/O; all are gone when the Sandbox is closed). stdout and stderr go to pipes the zygote
  reads with a cap: it keeps only the tail and kills the candidate once the total passes
  ``Limits.output_bytes``. Hash randomisation is per worker (``-I`` ignores PYTHONHASHSEED).
* Cleanup: after every candidate (pass, fail, timeout) the zygote, as PID 1 of its namespace,
  sends SIGKILL to every other process in the namespace (``kill(-1)`` is namespace-scoped for
  a namespace init; the call is guarded by ``getpid() == 1``), so children that escaped with
  ``setsid``/double fork die too, then reaps them. Without a PID namespace it kills the
  candidate's process group, then, with a dedicated uid, every process of that uid (a helper
  that has switched to the uid sends ``kill(-1)``), then every descendant (the zygote is a
  child subreaper, so escaped processes stay its descendants). The candidate is reaped only
  after that, so its pid and group cannot be reused in between. The zygote was started in a
  new session, so no candidate has a controlling terminal.
* The parent never blocks without a deadline: a worker that does not answer within the
  candidate's timeout plus a grace period is killed (its namespace with it) and restarted.

Verdicts and the pass proof
===========================
The candidate runs inside a tiny runner (in the forked child) that execs the program and maps
the outcome to an exit code: 1 for AssertionError (``failed``), 3 for MemoryError or a file too
large (``killed``, a resource limit), 2 for any other exception, including SystemExit
(``error``). A pass needs more than exit code 0: after the fork, the zygote draws a random
16-byte nonce and writes it into a pipe the child can read; only once the program has returned
does the runner read that nonce and echo it on a result pipe. The zygote reports ``passed`` only
for exit code 0 *and* the exact nonce. The nonce is never in the candidate's memory while its
code runs, so ``os._exit(0)``, ``sys.exit(0)``, closing stdout, killing itself, printing fake
markers or writing guesses to the result pipe all end as ``error``/``failed``. Limits of this
design (shared by every in-process checker, HumanEval's and EvalPlus' included): code in the
same process that was written specifically against this runner (read fd 3, write fd 4) could
forge the proof, and an object whose ``__eq__`` always returns True fools the tests themselves.
The runner keeps its own references to ``os.read``/``os.write``/``os._exit`` so monkeypatching
``os`` cannot redirect the proof.

Degraded modes
==============
* Not root (Linux): the workers try an unprivileged user namespace (plus the same PID, network,
  mount and IPC namespaces) and drop all capabilities in each candidate. Candidates then run as
  *your* uid: RLIMIT_NPROC counts all your processes (it is set to your current count plus the
  limit, so it is approximate), and files that your uid may write outside the protected
  directories are writable. If user namespaces are unavailable there is no network isolation
  and no PID namespace: the candidate can then signal your other processes, the parent
  included (escaped processes are still found through a child subreaper and killed).
  :attr:`Sandbox.isolation` says what is in force and a warning is issued.
  In a user namespace the candidate could still signal processes of your uid that it can name,
  but the PID namespace leaves it nothing outside to name.
* macOS: no namespaces; workers run under ``sandbox-exec`` with a deny-network profile, and as
  RLIMIT_AS is not enforced there, the parent polls the candidates' RSS (psutil) and kills a
  candidate that exceeds ``Limits.address_space_bytes``. Without root, processes that left the
  candidate's process group are not found there (no /proc, no subreaper). Untested here.
"""

from __future__ import annotations

import dataclasses
import errno
import gc
import json
import os
import select
import signal
import sys
import time
from typing import Literal, Sequence

if __name__ != "__main__":
    # Parent side only. The worker runs this file as a script and must stay lean: with threading
    # (pulled in by these) loaded, every fork of the zygote costs several times more.
    import queue
    import shutil
    import subprocess
    import tempfile
    import threading
    import warnings
    from concurrent.futures import ThreadPoolExecutor

Verdict = Literal["passed", "failed", "error", "timeout", "killed"]

TAIL_BYTES = 4096
FIRST_SANDBOX_UID = 61000
SANDBOX_UID_RANGE = 2000
_REPLY_GRACE_S = 15.0
_WORKER_START_TIMEOUT_S = 30.0
_EXIT_PASSED, _EXIT_FAILED, _EXIT_ERROR, _EXIT_RESOURCE, _EXIT_SETUP = 0, 1, 2, 3, 125
_NONCE_FD, _RESULT_FD = 3, 4
_WARM_MODULES = (
    "typing", "math", "re", "collections", "itertools", "functools", "string", "hashlib",
    "random", "copy", "heapq", "bisect", "fractions", "traceback", "types", "fcntl", "resource",
)
_PROTECTED_DIRS = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/var/lock")


@dataclasses.dataclass(frozen=True)
class Limits:
    """Resource limits of one candidate process."""

    cpu_seconds: int = 10
    address_space_bytes: int = 2 * 1024**3
    max_processes: int = 32
    output_bytes: int = 1024**2
    file_size_bytes: int = 16 * 1024**2

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"Limits.{field.name} must be a positive int, got {value!r}")


class SandboxError(RuntimeError):
    """The sandbox itself failed (a worker died or hung): a harness error, never a verdict."""


@dataclasses.dataclass(frozen=True)
class SandboxResult:
    """Outcome of one program: verdict, timing, capped output tails and exit detail."""

    verdict: Verdict
    duration_s: float
    stdout_tail: str
    stderr_tail: str
    detail: str
    exit_code: int | None = None
    signal_name: str | None = None

    @property
    def passed(self) -> bool:
        return self.verdict == "passed"


@dataclasses.dataclass(frozen=True)
class Isolation:
    """Which protections are in force for the candidates of a :class:`Sandbox`."""

    separate_uid: bool
    network_isolated: bool
    pid_namespace: bool
    filesystem_protected: bool
    notes: tuple[str, ...] = ()


def default_timeout(canonical_runtime_s: float) -> float:
    """Wall-clock timeout for candidates of a problem, EvalPlus style: max(4 s, 4 x canonical)."""
    return max(4.0, 4.0 * canonical_runtime_s)


def run_program(source: str, *, timeout_s: float, limits: Limits = Limits()) -> SandboxResult:
    """Run one program in a fresh sandboxed process."""
    return run_programs([source], timeout_s=timeout_s, limits=limits, workers=1)[0]


def run_programs(
    sources: Sequence[str], *, timeout_s: float, limits: Limits = Limits(), workers: int | None = None
) -> list[SandboxResult]:
    """Run programs in parallel (up to the CPU count), one process each; results keep the order."""
    if not sources:
        return []
    count = min(len(sources), workers or _cpu_count())
    with Sandbox(workers=count) as sandbox:
        return sandbox.run_many(sources, timeout_s=timeout_s, limits=limits)


class Sandbox:
    """A pool of sandbox workers; reuse one for many runs to pay the start-up once."""

    def __init__(self, workers: int | None = None) -> None:
        self._count = max(1, workers or _cpu_count())
        self._base_dir = _make_base_dir()
        self._janitor = _Janitor()
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._workers: list[_Worker] = []
        try:
            for _ in range(self._count):
                self._workers.append(_Worker(self._base_dir, self._janitor))
            for worker in self._workers:
                worker.wait_ready()
                self._idle.put(worker)
        except BaseException:
            self.close()
            raise
        self.isolation = self._workers[0].isolation
        _warn_if_degraded(self.isolation)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def run(self, source: str, *, timeout_s: float, limits: Limits = Limits()) -> SandboxResult:
        """Run one program on the next free worker (thread-safe)."""
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s!r}")
        worker = self._idle.get()
        try:
            return worker.run(source, timeout_s, limits)
        finally:
            self._idle.put(worker)

    def run_many(
        self, sources: Sequence[str], *, timeout_s: float, limits: Limits = Limits()
    ) -> list[SandboxResult]:
        """Run programs on all workers at once; results in input order."""
        with ThreadPoolExecutor(max_workers=self._count) as pool:
            return list(pool.map(lambda s: self.run(s, timeout_s=timeout_s, limits=limits), sources))

    def close(self) -> None:
        """Stop the workers and remove every job directory (waits for the removals)."""
        for worker in self._workers:
            worker.close()
        self._workers.clear()
        self._janitor.close()
        shutil.rmtree(self._base_dir, ignore_errors=True)


class _Janitor:
    """Removes finished job directories in the background: on ext4 with online discard a
    single rmdir blocks for milliseconds of I/O, which would otherwise sit between two jobs."""

    def __init__(self) -> None:
        self._paths: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="mlxbench-sandbox-janitor", daemon=True)
        self._thread.start()

    def remove(self, path: str) -> None:
        self._paths.put(path)

    def _work(self) -> None:
        while (path := self._paths.get()) is not None:
            shutil.rmtree(path, ignore_errors=True)

    def close(self) -> None:
        if self._thread.is_alive():
            self._paths.put(None)
            self._thread.join()


# ----------------------------------------------------------------------------- parent side


def _cpu_count() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _make_base_dir() -> str:
    base = tempfile.mkdtemp(prefix="mlxbench-sandbox-")
    os.chmod(base, 0o711)  # sandbox uids may enter their own job dir but not list the others
    return base


def _warn_if_degraded(isolation: Isolation) -> None:
    if isolation.notes:
        warnings.warn("pytest-mlxbench sandbox is degraded: " + "; ".join(isolation.notes), stacklevel=3)


def _clean_env() -> dict[str, str]:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
    }


def _world_traversable(path: str) -> bool:
    current = path
    while True:
        try:
            if not os.stat(current).st_mode & 0o001:
                return False
        except OSError:
            return False
        parent = os.path.dirname(current)
        if parent == current:
            return True
        current = parent


def _interpreter_dirs_to_expose() -> list[str]:
    """Interpreter directories that an unprivileged uid could not reach (e.g. under /root)."""
    dirs = {
        os.path.realpath(sys.base_prefix),
        os.path.realpath(sys.base_exec_prefix),
        os.path.dirname(os.path.realpath(sys.executable)),
        os.path.dirname(os.path.abspath(sys.executable)),  # a venv's bin, for candidates that spawn Python
    }
    hidden = sorted(d for d in dirs if not _world_traversable(d))
    return [d for d in hidden if not any(d != o and d.startswith(o + os.sep) for o in hidden)]


def _protected_dirs(base_dir: str) -> list[str]:
    candidates = {os.path.realpath(d) for d in (*_PROTECTED_DIRS, tempfile.gettempdir(), os.path.dirname(base_dir))}
    return sorted(d for d in candidates if os.path.isdir(d) and os.stat(d).st_mode & 0o002)


class _UidLease:
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
        raise RuntimeError("no free sandbox uid in the 61000-62999 range")

    def release(self) -> None:
        os.close(self._fd)


def _user_task_count() -> int:
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


class _Worker:
    """One worker process tree, talking newline-delimited JSON over two pipes."""

    def __init__(self, base_dir: str, janitor: _Janitor) -> None:
        self._base_dir = base_dir
        self._janitor = janitor
        self._lease = _UidLease() if _is_root() else None
        self._process: subprocess.Popen[bytes] | None = None
        self._log = tempfile.TemporaryFile()
        self._buffer = b""
        self.isolation = Isolation(False, False, False, False)
        self._start()

    def _config(self, job_r: int, reply_w: int) -> dict[str, object]:
        uid = self._lease.uid if self._lease else None
        nproc_base = 0 if uid is not None or sys.platform != "linux" else _user_task_count()
        return {
            "job_fd": job_r,
            "reply_fd": reply_w,
            "uid": uid,
            "base_dir": self._base_dir,
            "expose": _interpreter_dirs_to_expose() if uid is not None else [],
            "protect": _protected_dirs(self._base_dir) if sys.platform == "linux" else [],
            "nproc_base": nproc_base,
        }

    def _start(self) -> None:
        job_r, self._job_w = os.pipe()
        self._reply_r, reply_w = os.pipe()
        config = json.dumps(self._config(job_r, reply_w))
        command = [sys.executable, "-I", "-S", "-B", os.path.abspath(__file__), "--worker", config]
        if sys.platform == "darwin":
            command = ["sandbox-exec", "-p", "(version 1)(allow default)(deny network*)", *command]
        self._log.seek(0)
        self._log.truncate()
        try:
            self._process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._log,
                pass_fds=(job_r, reply_w), env=_clean_env(), cwd="/", start_new_session=True,
            )
        finally:
            os.close(job_r)
            os.close(reply_w)

    def wait_ready(self) -> None:
        message = self._read_reply(time.monotonic() + _WORKER_START_TIMEOUT_S)
        if message is None or not message.get("ready"):
            self._kill()
            raise RuntimeError(f"sandbox worker failed to start: {self._log_tail()}")
        self.isolation = Isolation(**{**message["isolation"], "notes": tuple(message["isolation"]["notes"])})

    def run(self, source: str, timeout_s: float, limits: Limits) -> SandboxResult:
        if self._process is None:
            self._start()
            self.wait_ready()
        job_dir = self._make_job_dir(source)
        try:
            return self._run_job(job_dir, timeout_s, limits)
        finally:
            self._janitor.remove(job_dir)  # the worker has killed every process that could write there

    def _make_job_dir(self, source: str) -> str:
        job_dir = tempfile.mkdtemp(prefix="job-", dir=self._base_dir)
        path = os.path.join(job_dir, "program.py")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(source)
        if self._lease:
            os.chown(job_dir, self._lease.uid, self._lease.uid)
            os.chown(path, self._lease.uid, self._lease.uid)
        return job_dir

    def _run_job(self, job_dir: str, timeout_s: float, limits: Limits) -> SandboxResult:
        job = {"dir": job_dir, "timeout_s": timeout_s, "limits": dataclasses.asdict(limits)}
        started = time.monotonic()
        try:
            os.write(self._job_w, (json.dumps(job) + "\n").encode())
        except OSError:
            reply = None
        else:
            reply = self._await_reply(started + timeout_s + _REPLY_GRACE_S, limits)
        if reply is None:
            detail = f"sandbox worker stopped answering ({self._log_tail() or 'no log'})"
            self._kill()  # the next job starts a fresh worker
            raise SandboxError(detail)  # our machinery failed: a harness error, not the candidate's verdict
        return SandboxResult(**reply)

    def _await_reply(self, deadline: float, limits: Limits) -> dict | None:
        if sys.platform != "darwin":
            return self._read_reply(deadline)
        return self._read_reply(deadline, poll=lambda: _kill_if_over_memory(self._process, limits))

    def _read_reply(self, deadline: float, poll=None) -> dict | None:
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([self._reply_r], [], [], min(remaining, 0.1) if poll else remaining)
            if poll:
                poll()
            if not ready:
                continue
            chunk = os.read(self._reply_r, 65536)
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
        if self._process is None:
            return
        try:
            os.killpg(self._process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._process.wait()
        self._process = None
        self._close_pipes()

    def _close_pipes(self) -> None:
        for fd in (self._job_w, self._reply_r):
            if fd >= 0:
                os.close(fd)
        self._job_w = self._reply_r = -1
        self._buffer = b""

    def close(self) -> None:
        if self._process is not None:
            os.close(self._job_w)  # EOF: the zygote sweeps and exits, taking its namespace down
            self._job_w = -1
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            self._kill()
        if self._lease:
            self._lease.release()
            self._lease = None
        self._log.close()


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _kill_if_over_memory(process: subprocess.Popen[bytes] | None, limits: Limits) -> None:
    """macOS only: RLIMIT_AS is not enforced there, so watch the candidates' RSS instead."""
    import psutil

    if process is None:
        return
    try:
        zygote = psutil.Process(process.pid)
        for child in zygote.children(recursive=True):
            if child.memory_info().rss > limits.address_space_bytes:
                child.kill()
    except psutil.Error:
        pass


# ----------------------------------------------------------------------------- worker side
# Everything below runs in the worker process (python -I -S -B sandbox.py --worker CONFIG).

_CLONE_NEWNS, _CLONE_NEWIPC, _CLONE_NEWUSER = 0x00020000, 0x08000000, 0x10000000
_CLONE_NEWPID, _CLONE_NEWNET = 0x20000000, 0x40000000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 1, 2, 4, 8
_MS_REMOUNT, _MS_BIND, _MS_MOVE, _MS_REC, _MS_PRIVATE = 32, 4096, 8192, 16384, 1 << 18
_MS_KEEP_ON_REMOUNT = 1 | 2 | 4 | 8 | 16 | 64 | 1024 | 2048 | 4096  # statvfs f_flag bits == MS_* bits
_PR_SET_PDEATHSIG, _PR_SET_CHILD_SUBREAPER, _PR_SET_NO_NEW_PRIVS = 1, 36, 38


class _Libc:
    """The few Linux syscalls Python 3.11 does not wrap."""

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

    def mount(self, source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
        encode = lambda s: s.encode() if s is not None else None  # noqa: E731
        result = self._libc.mount(encode(source), encode(target), encode(fstype), flags, encode(data))
        self._check(result, f"mount {target}")

    def prctl(self, option: int, value: int) -> None:
        self._check(self._libc.prctl(option, value, 0, 0, 0), "prctl")

    def drop_capabilities(self) -> None:
        ctypes = self._ctypes

        class Header(ctypes.Structure):
            _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

        header = Header(0x20080522, 0)
        data = (ctypes.c_uint32 * 6)()
        self._check(self._libc.capset(ctypes.byref(header), data), "capset")


def _worker_main(config: dict) -> None:
    libc = _Libc() if sys.platform == "linux" else None
    notes: list[str] = []
    uid = config["uid"]
    namespaces = libc is not None and _enter_namespaces(libc, uid, notes)
    if config["expose"] and not namespaces:
        raise SystemExit(
            f"the sandbox uid cannot reach the interpreter in {config['expose']} and no mount namespace "
            "is available to show it: use a Python installed in a world-readable place"
        )
    config["user_namespace"] = namespaces and uid is None
    pid_namespace = False
    if namespaces:
        _fork_namespace_init(config)
        pid_namespace = os.getpid() == 1
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    elif libc is not None:
        libc.prctl(_PR_SET_CHILD_SUBREAPER, 1)
    protected = namespaces and _set_up_mounts(libc, config, pid_namespace, notes)
    if sys.platform == "darwin":
        notes.append("macOS: network denied by sandbox-exec; memory limit enforced by RSS polling")
    if uid is None:
        notes.append("not root: candidates run as the calling user")
    isolation = {
        "separate_uid": uid is not None,
        "network_isolated": namespaces or sys.platform == "darwin",
        "pid_namespace": pid_namespace,
        "filesystem_protected": protected,
        "notes": notes,
    }
    for name in _WARM_MODULES:
        __import__(name)
    gc.collect()
    gc.freeze()  # children's garbage collections then leave the shared pages alone (no copy-on-write)
    _Zygote(config, libc, pid_namespace).serve(isolation)


def _enter_namespaces(libc: _Libc, uid: int | None, notes: list[str]) -> bool:
    flags = _CLONE_NEWPID | _CLONE_NEWNET | _CLONE_NEWNS | _CLONE_NEWIPC
    if uid is None:
        flags |= _CLONE_NEWUSER
    real_uid, real_gid = os.getuid(), os.getgid()
    try:
        libc.unshare(flags)
    except OSError as exc:
        notes.append(f"no namespaces ({exc.strerror}): network NOT isolated, no PID namespace")
        return False
    if uid is None:
        _write_file("/proc/self/setgroups", "deny")
        _write_file("/proc/self/uid_map", f"{real_uid} {real_uid} 1")
        _write_file("/proc/self/gid_map", f"{real_gid} {real_gid} 1")
    return True


def _write_file(path: str, text: str) -> None:
    with open(path, "w") as handle:
        handle.write(text)


def _fork_namespace_init(config: dict) -> None:
    """The first child after unshare(NEWPID) is PID 1 of the new namespace: it becomes the zygote."""
    pid = os.fork()
    if pid == 0:
        return
    os.close(config["job_fd"])
    os.close(config["reply_fd"])
    _, status = os.waitpid(pid, 0)
    os._exit(os.waitstatus_to_exitcode(status) & 0xFF)


def _set_up_mounts(libc: _Libc, config: dict, pid_namespace: bool, notes: list[str]) -> bool:
    libc.mount(None, "/", None, _MS_REC | _MS_PRIVATE)
    if config["expose"]:
        _expose_interpreter(libc, config["expose"], config["base_dir"])
    if pid_namespace:
        libc.mount("proc", "/proc", "proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC)
    try:
        _protect_world_writable(libc, config["protect"], config["base_dir"])
    except OSError as exc:
        notes.append(f"world-writable directories stay writable ({exc.strerror})")
        return False
    return True


def _hidden_ancestor(path: str) -> str:
    parts = path.strip(os.sep).split(os.sep)
    for depth in range(1, len(parts) + 1):
        ancestor = os.sep + os.path.join(*parts[:depth])
        if not os.stat(ancestor).st_mode & 0o001:
            return ancestor
    raise ValueError(f"{path} is reachable already")


def _expose_interpreter(libc: _Libc, paths: list[str], base_dir: str) -> None:
    """Cover each unreachable ancestor with a tmpfs and bind just the interpreter dirs into it."""
    staged = []
    for index, path in enumerate(paths):
        stage = os.path.join(base_dir, f".expose-{os.urandom(6).hex()}-{index}")
        os.mkdir(stage, 0o700)
        libc.mount(path, stage, None, _MS_BIND | _MS_REC)
        staged.append((stage, path))
    for cover in sorted({_hidden_ancestor(path) for path in paths}):
        libc.mount("tmpfs", cover, "tmpfs", _MS_NOSUID | _MS_NODEV, "mode=0755,size=1m")
    for stage, path in staged:
        os.makedirs(path, mode=0o755, exist_ok=True)
        libc.mount(stage, path, None, _MS_MOVE)
        os.rmdir(stage)


def _protect_world_writable(libc: _Libc, dirs: list[str], base_dir: str) -> None:
    """Read-only binds over world-writable dirs; the job base dir is bound first so it stays writable."""
    libc.mount(base_dir, base_dir, None, _MS_BIND)
    for path in dirs:
        libc.mount(path, path, None, _MS_BIND | _MS_REC)
        kept = os.statvfs(path).f_flag & _MS_KEEP_ON_REMOUNT
        libc.mount(None, path, None, _MS_BIND | _MS_REMOUNT | _MS_RDONLY | kept)


class _Zygote:
    """Serves jobs: forks one candidate per job, watches it, sweeps, answers."""

    def __init__(self, config: dict, libc: _Libc | None, pid_namespace: bool) -> None:
        self._config = config
        self._libc = libc
        self._pid_namespace = pid_namespace
        self._job_fd = config["job_fd"]
        self._reply_fd = config["reply_fd"]
        self._buffer = b""

    def serve(self, isolation: dict) -> None:
        self._send({"ready": True, "isolation": isolation})
        while (job := self._next_job()) is not None:
            self._send(self._run(job))

    def _next_job(self) -> dict | None:
        while b"\n" not in self._buffer:
            chunk = os.read(self._job_fd, 65536)
            if not chunk:
                return None
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def _send(self, message: dict) -> None:
        os.write(self._reply_fd, (json.dumps(message) + "\n").encode())

    def _run(self, job: dict) -> dict:
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        nonce_r, nonce_w = os.pipe()
        result_r, result_w = os.pipe()
        started = time.monotonic()
        pid = os.fork()
        if pid == 0:
            _become_candidate(job, self._config, self._libc, (out_w, err_w, nonce_r, result_w))
        for fd in (out_w, err_w, nonce_r, result_w):
            os.close(fd)
        nonce = os.urandom(16).hex().encode()  # drawn after the fork: never in the child's memory
        try:
            os.write(nonce_w, nonce)
        except OSError:
            pass  # the child closed its end already; it cannot pass then
        os.close(nonce_w)
        watch = _Watch(pid, {out_r: "stdout", err_r: "stderr", result_r: "result"}, job, self._job_fd)
        stop_reason = watch.wait(started + job["timeout_s"])
        duration = time.monotonic() - started
        self._kill_leftovers(pid)
        _, status = os.waitpid(pid, 0)
        self._reap_leftovers()
        watch.drain()
        if stop_reason == "parent gone":
            os._exit(0)
        return _verdict(status, stop_reason, watch, nonce, duration)

    def _kill_leftovers(self, candidate_pid: int) -> None:
        """SIGKILL the candidate and everything it started, escaped processes included. The
        candidate is not reaped yet, so its pid and process group cannot have been reused."""
        if self._in_own_pid_namespace():
            # As PID 1 of our own namespace, kill(-1) reaches exactly the namespace's other processes.
            _signal_quietly(-1)
            return
        _signal_quietly(-candidate_pid)  # its process group (all macOS offers without root)
        if self._config["uid"] is not None:
            _kill_all_processes_of(self._config["uid"])

    def _reap_leftovers(self) -> None:
        if self._in_own_pid_namespace():
            _reap_all(block=True)
        else:
            _kill_descendants()  # as child subreaper, escaped processes were reparented to us

    def _in_own_pid_namespace(self) -> bool:
        return self._pid_namespace and os.getpid() == 1


class _Watch:
    """Reads a candidate's pipes with caps until it exits, times out or floods its output."""

    def __init__(self, pid: int, pipes: dict[int, str], job: dict, job_fd: int) -> None:
        self.pid = pid
        self._pipes = dict(pipes)
        self._names = dict(pipes)
        self._job_fd = job_fd
        self._output_cap = job["limits"]["output_bytes"]
        self.tails = {"stdout": bytearray(), "stderr": bytearray(), "result": bytearray()}
        self.totals = {"stdout": 0, "stderr": 0, "result": 0}
        self._pidfd = os.pidfd_open(pid) if hasattr(os, "pidfd_open") else None

    def wait(self, deadline: float) -> str | None:
        """Wait until the candidate exits (left unreaped) or must be stopped; return why it must."""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return "timeout"
            waitables = [*self._pipes, self._job_fd] + ([self._pidfd] if self._pidfd is not None else [])
            poll_s = remaining if self._pidfd is not None else min(remaining, 0.005)
            ready, _, _ = select.select(waitables, [], [], poll_s)
            if self._job_fd in ready:
                return "parent gone"
            for fd in ready:
                if fd in self._pipes:
                    self._read(fd)
            if sum(self.totals.values()) > self._output_cap:
                return "output"
            if os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return None

    def _read(self, fd: int) -> None:
        chunk = os.read(fd, 65536)
        if not chunk:
            del self._pipes[fd]
            os.close(fd)
            return
        name = self._names[fd]
        self.totals[name] += len(chunk)
        tail = self.tails[name]
        tail += chunk
        if len(tail) > 2 * TAIL_BYTES:
            del tail[:-TAIL_BYTES]

    def drain(self) -> None:
        """After the sweep every writer is dead: read what is left, up to the cap, then close."""
        deadline = time.monotonic() + 1.0
        while self._pipes and time.monotonic() < deadline:
            ready, _, _ = select.select(list(self._pipes), [], [], 0.1)
            for fd in ready:
                self._read(fd)
        for fd in self._pipes:
            os.close(fd)
        self._pipes.clear()
        if self._pidfd is not None:
            os.close(self._pidfd)

    def text(self, name: str) -> str:
        return bytes(self.tails[name][-TAIL_BYTES:]).decode("utf-8", "replace")


def _verdict(status: int, stop_reason: str | None, watch: _Watch, nonce: bytes, duration: float) -> dict:
    result_message = bytes(watch.tails["result"])
    exit_code = signal_name = None
    if stop_reason is None:
        code = os.waitstatus_to_exitcode(status)
        exit_code, signal_name = (code, None) if code >= 0 else (None, _signal_name(-code))
    verdict, detail = _classify(stop_reason, exit_code, signal_name, result_message, nonce)
    return {
        "verdict": verdict,
        "duration_s": round(duration, 6),
        "stdout_tail": watch.text("stdout"),
        "stderr_tail": watch.text("stderr"),
        "detail": detail,
        "exit_code": exit_code,
        "signal_name": signal_name,
    }


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"  # real-time signals have no name


def _classify(stop_reason, exit_code, signal_name, result_message: bytes, nonce: bytes) -> tuple[str, str]:
    summary = result_message[1:].decode("utf-8", "replace").strip() if result_message.startswith(b"F") else ""
    if stop_reason == "timeout":
        return "timeout", "wall-clock timeout: killed"
    if stop_reason == "output":
        return "killed", "output limit exceeded: killed"
    if signal_name in ("SIGXCPU", "SIGKILL", "SIGXFSZ"):
        return "killed", f"killed by {signal_name} (resource limit)"
    if signal_name is not None:
        return "error", f"died from {signal_name}"
    if exit_code == _EXIT_PASSED:
        if result_message == nonce:
            return "passed", "all checks passed"
        return "error", "exited with status 0 before the checks completed (no pass proof)"
    if exit_code == _EXIT_FAILED:
        return "failed", summary or "AssertionError"
    if exit_code == _EXIT_RESOURCE:
        return "killed", f"resource limit: {summary or 'MemoryError'}"
    if exit_code == _EXIT_SETUP:
        return "error", "sandbox could not set up the candidate process"
    return "error", summary or f"exit status {exit_code}"


def _signal_quietly(target: int) -> None:
    try:
        os.kill(target, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _kill_all_processes_of(uid: int) -> None:
    """Without a PID namespace: a helper that switches to the sandbox uid and sends kill(-1),
    which then reaches only that uid's processes (the escaped ones included)."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            if os.getuid() == uid != 0 and os.geteuid() == uid:  # never kill(-1) with privileges
                _signal_quietly(-1)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def _reap_all(block: bool) -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, 0 if block else os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _kill_descendants() -> None:
    """Fallback without a PID namespace: we are a child subreaper, so escaped processes stay ours."""
    for _ in range(100):
        pids = _descendants(os.getpid())
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        _reap_all(block=False)
        time.sleep(0.001)


def _descendants(root: int) -> list[int]:
    found, pending = [], [root]
    while pending:
        pid = pending.pop()
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as handle:
                    children = [int(p) for p in handle.read().split()]
            except OSError:
                continue
            found.extend(children)
            pending.extend(children)
    return found


# ----------------------------------------------------------------------------- candidate side


def _become_candidate(job: dict, config: dict, libc: _Libc | None, fds: tuple[int, int, int, int]) -> None:
    """In the forked child: confine, drop privileges, then run the program. Never returns."""
    try:
        os.setpgid(0, 0)  # not setsid(): a new session costs milliseconds (scheduler autogroup)
        _apply_limits(job["limits"], config)
        if libc is not None:
            libc.prctl(_PR_SET_NO_NEW_PRIVS, 1)
        if config["uid"] is not None:
            os.setgroups([])
            os.setgid(config["uid"])
            os.setuid(config["uid"])
        elif config.get("user_namespace"):
            libc.drop_capabilities()
        os.chdir(job["dir"])
        os.umask(0o077)
        os.environ.update(HOME=job["dir"], TMPDIR=job["dir"])
        _install_fds(fds)
    except BaseException:  # noqa: BLE001 - report to the worker log, never run the program half-confined
        import traceback

        traceback.print_exc()
        os._exit(_EXIT_SETUP)
    _run_candidate(os.path.join(job["dir"], "program.py"))


def _apply_limits(limits: dict, config: dict) -> None:
    import resource

    def cap(which: int, soft: int, hard: int | None = None) -> None:
        resource.setrlimit(which, (soft, soft if hard is None else hard))

    cap(resource.RLIMIT_CPU, limits["cpu_seconds"], limits["cpu_seconds"] + 1)
    cap(resource.RLIMIT_FSIZE, limits["file_size_bytes"])
    cap(resource.RLIMIT_CORE, 0)
    cap(resource.RLIMIT_NPROC, config["nproc_base"] + limits["max_processes"])
    if sys.platform != "darwin":
        cap(resource.RLIMIT_AS, limits["address_space_bytes"])


def _install_fds(fds: tuple[int, int, int, int]) -> None:
    import fcntl

    moved = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 64) for fd in fds]
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    for target, fd in zip((1, 2, _NONCE_FD, _RESULT_FD), moved):
        os.dup2(fd, target)
    os.closerange(_RESULT_FD + 1, 1 << 16)
    sys.stdin = open(0, "r", closefd=False)
    sys.stdout = open(1, "w", encoding="utf-8", errors="backslashreplace", closefd=False)
    sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False)


def _run_candidate(path: str, _read=os.read, _write=os.write, _exit=os._exit) -> None:
    """The runner: exec the program, prove a pass with the nonce, report anything else by exit code."""
    code, summary = _execute(path)
    _flush_standard_streams()
    try:
        if code == _EXIT_PASSED:
            _write(_RESULT_FD, _read(_NONCE_FD, 64))
        else:
            _write(_RESULT_FD, b"F" + summary.encode("utf-8", "replace")[:500])
    except OSError:
        pass
    _exit(code)


def _execute(path: str) -> tuple[int, str]:
    import builtins
    import types

    sys.argv = [path]
    module = types.ModuleType("__main__")
    module.__dict__.update(__file__=path, __builtins__=builtins)
    sys.modules["__main__"] = module
    try:
        with open(path, "rb") as handle:
            program = compile(handle.read(), path, "exec")
        exec(program, module.__dict__)
    except AssertionError as exc:
        return _EXIT_FAILED, _describe(exc)
    except MemoryError as exc:
        return _EXIT_RESOURCE, _describe(exc)
    except BaseException as exc:  # noqa: BLE001 - every other outcome is the program's error
        if isinstance(exc, OSError) and exc.errno == errno.EFBIG:
            return _EXIT_RESOURCE, _describe(exc)
        return _EXIT_ERROR, _describe(exc)
    return _EXIT_PASSED, ""


def _describe(exc: BaseException) -> str:
    """Traceback to stderr, one summary line back; hostile __str__ may raise, so guard it."""
    try:
        import traceback

        below_runner = exc.__traceback__.tb_next if exc.__traceback__ else None
        traceback.print_exception(type(exc), exc, below_runner, file=sys.stderr)
    except BaseException:  # noqa: BLE001
        pass
    try:
        name = str(type(exc).__name__)
        lines = str(exc).splitlines()
        return f"{name}: {lines[0]}" if lines else name
    except BaseException:  # noqa: BLE001
        return "an exception that cannot be described"


def _flush_standard_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001
            pass


if __name__ == "__main__" and sys.argv[1:2] == ["--worker"]:
    _worker_main(json.loads(sys.argv[2]))
