"""The parent side's pool: :class:`Sandbox` (workers, one job at a time each) and the
one-shot helpers :func:`run_program`, :func:`run_programs`."""

from __future__ import annotations

import queue
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Sequence

from pytest_mlxbench.sandbox import host, seccomp
from pytest_mlxbench.sandbox.cgroups import SandboxCgroups
from pytest_mlxbench.sandbox.janitor import Janitor, remove_tree
from pytest_mlxbench.sandbox.process import WorkerProcess, WorkerSetup
from pytest_mlxbench.sandbox.spec import Check, Limits, SandboxResult

CALL_ALL_TEST = """
for arguments in DATA:
    try:
        value = candidate.call(arguments)
    except Exception as exc:
        record({"raised": type(exc).__name__, "message": str(exc), "seconds": candidate.last_call_s})
    else:
        record({"value": value, "seconds": candidate.last_call_s})
"""


class Sandbox:
    """A pool of sandbox workers; reuse one for many runs to pay the start-up once. Thread-safe."""

    def __init__(self, workers: int | None = None) -> None:
        self._count = max(1, workers or host.cpu_count())
        self._base_dir = host.make_base_dir()
        self._janitor = Janitor()
        self._cgroups = SandboxCgroups(self._count)
        programs, seccomp_note = seccomp.build_programs()
        self._idle: queue.Queue[WorkerProcess] = queue.Queue()
        self._workers: list[WorkerProcess] = []
        try:
            for index in range(self._count):
                setup = WorkerSetup(self._base_dir, self._janitor, self._cgroups.workers[index],
                                    tuple(self._cgroups.notes), programs, seccomp_note)
                self._workers.append(WorkerProcess(setup))
            for worker in self._workers:
                worker.wait_ready()
                self._idle.put(worker)
        except BaseException:
            self.close()
            raise
        self.isolation = self._workers[0].isolation
        if self.isolation.notes:
            warnings.warn("pytest-mlxbench sandbox is degraded: " + "; ".join(self.isolation.notes), stacklevel=2)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def run(self, program: str, *, timeout_s: float, limits: Limits = Limits(), check: Check | None = None) -> SandboxResult:
        """Run one candidate on the next free worker. With ``check``, the judge decides the
        verdict; without, ``program`` holds its own checks (``isolation="in_process"``)."""
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s!r}")
        worker = self._idle.get()
        try:
            return worker.run(program, check, timeout_s, limits)
        finally:
            self._idle.put(worker)

    def run_many(self, programs: Sequence[str], *, timeout_s: float, limits: Limits = Limits(),
                 checks: Sequence[Check | None] | Check | None = None) -> list[SandboxResult]:
        """Run programs on all workers at once; results in input order. ``checks``: one per
        program, or one for all, or None (in process)."""
        if checks is None or isinstance(checks, Check):
            checks = [checks] * len(programs)
        if len(checks) != len(programs):
            raise ValueError(f"{len(programs)} programs but {len(checks)} checks")
        with ThreadPoolExecutor(max_workers=self._count) as pool:
            return list(pool.map(lambda job: self.run(job[0], timeout_s=timeout_s, limits=limits, check=job[1]),
                                 zip(programs, checks)))

    def call_all(self, program: str, entry_point: str, inputs: Sequence[Sequence], *, timeout_s: float,
                 call_timeout_s: float | None = None, limits: Limits = Limits()) -> SandboxResult:
        """Call ``entry_point`` once per argument list in one candidate process; ``outputs`` holds,
        per input, ``{"value", "seconds"}`` or ``{"raised", "message", "seconds"}``. A call over
        ``call_timeout_s`` ends the run (verdict ``timeout``, outputs so far)."""
        check = Check(CALL_ALL_TEST, entry_point, data=[list(arguments) for arguments in inputs],
                      call_timeout_s=call_timeout_s)
        return self.run(program, timeout_s=timeout_s, limits=limits, check=check)

    @property
    def worker_pids(self) -> list[int]:
        """Process ids of the workers' outer processes (for tests that signal them)."""
        return [worker.pid for worker in self._workers if worker.pid is not None]

    def close(self) -> None:
        """Stop the workers and remove everything they left (waits for the removals; never raises
        for a tree it cannot remove)."""
        for worker in self._workers:
            worker.close()
        self._workers.clear()
        self._janitor.close()
        self._cgroups.close()
        try:
            remove_tree(self._base_dir)
        except OSError as exc:
            warnings.warn(f"pytest-mlxbench sandbox could not remove {self._base_dir}: {exc}", stacklevel=2)


def run_program(source: str, *, timeout_s: float, limits: Limits = Limits(), check: Check | None = None) -> SandboxResult:
    """Run one program in a fresh one-worker Sandbox."""
    with Sandbox(workers=1) as sandbox:
        return sandbox.run(source, timeout_s=timeout_s, limits=limits, check=check)


def run_programs(sources: Sequence[str], *, timeout_s: float, limits: Limits = Limits(),
                 checks: Sequence[Check | None] | Check | None = None, workers: int | None = None) -> list[SandboxResult]:
    """Run programs in parallel (up to the CPU count), one process each; results keep the order."""
    if not sources:
        return []
    with Sandbox(workers=min(len(sources), workers or host.cpu_count())) as sandbox:
        return sandbox.run_many(sources, timeout_s=timeout_s, limits=limits, checks=checks)

