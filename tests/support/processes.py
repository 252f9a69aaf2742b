"""Real processes for lifecycle tests: a pytest run started in the background, told to stop with a
real signal at a known point, and a check that no process it started is still running.

Only the pids the run wrote down are ever signalled or inspected (never -1, 0 or 1), and every
wait is bounded."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

# A test file for the background run: measures through the managed server, writes down the
# server's processes (name -> pid), then waits to be interrupted.
WAITING_SUITE = """
import json, os, time
import pytest_mlxbench
pytestmark = pytest_mlxbench.suite("ttft")

def test_measures(openai_client, mlx_endpoint, record_metric):
    reply = openai_client.chat.completions.create(
        model=mlx_endpoint.model, messages=[{"role": "user", "content": "hi"}], max_tokens=2)
    record_metric("completion_tokens", "tokens", reply.usage.completion_tokens, "count")

def test_waits_to_be_stopped(mlx_endpoint, record_metric):
    record_metric("started", "count", 1, "count")
    pids = mlx_endpoint.server.memory_processes()
    marker = os.environ["MLXBENCH_TEST_MARKER"]
    with open(marker + ".tmp", "w") as out:
        json.dump({"pytest": os.getpid(), **pids}, out)
    os.replace(marker + ".tmp", marker)
    time.sleep(120)
"""


class BackgroundRun:
    """``python -m pytest ARGS`` in ``cwd``, in its own session (a signal to it reaches nobody else)."""

    def __init__(self, cwd: Path, *args: str, marker: Path):
        self.marker = marker
        env = {**os.environ, "MLXBENCH_TEST_MARKER": str(marker)}
        self.log = open(cwd / "background-run.txt", "w+")  # noqa: SIM115 (closed in output())
        self.process = subprocess.Popen([sys.executable, "-m", "pytest", *args], cwd=cwd, env=env,
                                        stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_for_marker(self, timeout_s: float = 120.0) -> dict[str, int]:
        deadline = time.monotonic() + timeout_s
        while not self.marker.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.process.kill()
                raise AssertionError(f"the run never reached its marker:\n{self.output()}")
            time.sleep(0.1)
        return json.loads(self.marker.read_text())

    def signal(self, sig: signal.Signals) -> None:
        assert self.process.pid > 1
        self.process.send_signal(sig)

    def wait(self, timeout_s: float = 60.0) -> int:
        try:
            return self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"the run did not end within {timeout_s} s:\n{self.output()}") from None

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        text = self.log.read()
        self.log.close()
        return text


def started_processes(pids: dict[str, int]) -> dict[str, psutil.Process]:
    """The processes behind the pids that still exist, pinned by their start time (from then on a
    reused pid is not them)."""
    processes = {}
    for name, pid in pids.items():
        try:
            processes[name] = psutil.Process(pid) if pid > 1 else None
        except psutil.NoSuchProcess:
            continue
    return {name: process for name, process in processes.items() if process is not None}


def survivors(processes: dict[str, psutil.Process], timeout_s: float = 10.0) -> list[str]:
    """Names of the processes still running after up to ``timeout_s`` (a zombie has ended)."""
    deadline = time.monotonic() + timeout_s
    while True:
        running = [name for name, process in processes.items() if _running(process)]
        if not running or time.monotonic() > deadline:
            return running
        time.sleep(0.05)


def _running(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def stop_with(run: BackgroundRun, sig: signal.Signals, processes: dict[str, psutil.Process]) -> int:
    """Send the run ``sig``; its exit code, once it and every process it started are gone."""
    try:
        run.signal(sig)
        code = run.wait()
        left = survivors(processes)
    finally:
        kill_leftovers(processes)
    assert left == [], f"still running after {sig.name}: {left}"
    return code


def kill_leftovers(processes: dict[str, psutil.Process]) -> None:
    """Cleanup after a failed assertion: only the processes this test saw start."""
    for process in processes.values():
        if _running(process) and process.pid > 1:
            os.kill(process.pid, signal.SIGKILL)
