"""Hostile candidates against the process machinery: loops, floods, huge allocations, attempts
on the test process and its secrets. Each is contained, is not a pass, and the sandbox serves on.

Safety of the tests themselves: no attack signals process -1 or PID 1 (every kill target is
checked to be > 1 first), and every attack is bounded (loops by count, allocations by size)."""

from __future__ import annotations

import os
import uuid

import pytest
from support.sandbox_attacks import CANONICAL, TEST, forging

from pytest_mlxbench.sandbox import TAIL_BYTES, Check, Limits, Sandbox, run_program

CHECK = Check(test=TEST, entry_point="add")


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(workers=2) as pool:
        yield pool


def run(sandbox, program: str, **kwargs):
    return sandbox.run(program, timeout_s=kwargs.pop("timeout_s", 10), check=CHECK, **kwargs)


def assert_sandbox_still_works(sandbox: Sandbox) -> None:
    assert run(sandbox, CANONICAL).verdict == "passed"


def test_infinite_loop_is_stopped(sandbox):
    assert run(sandbox, forging("while True:\n    pass"), timeout_s=1).verdict == "timeout"
    assert_sandbox_still_works(sandbox)


def test_printing_a_gigabyte_is_cut_off(sandbox):
    result = run(sandbox, forging("chunk = 'x' * 1024 * 1024\nfor _ in range(1024):\n    sys.stdout.write(chunk)"),
                 timeout_s=60)
    assert (result.verdict, result.detail) == ("killed", "output limit exceeded: killed")
    assert len(result.stdout_tail) <= TAIL_BYTES
    assert_sandbox_still_works(sandbox)


def test_allocating_ten_gigabytes_is_killed(sandbox):
    result = run(sandbox, forging("hoard = bytearray(10 * 1024**3)"))
    assert result.verdict == "killed" and "MemoryError" in result.detail


def test_growing_allocation_is_killed_at_the_limit(sandbox):
    grow = "hoard = []\nfor _ in range(100):  # 10 GB at most\n    hoard.append(bytearray(100 * 1024**2))"
    assert run(sandbox, forging(grow), timeout_s=20, limits=Limits(address_space_bytes=1024**3)).verdict == "killed"


def test_returning_a_huge_value_is_refused_not_carried(sandbox):
    result = run(sandbox, "def add(a, b):\n    return 'x' * (8 * 1024 * 1024)\n", limits=Limits(message_bytes=1024**2))
    assert result.verdict == "unencodable" and "over the limit" in result.detail
    assert_sandbox_still_works(sandbox)


def test_killing_the_test_process_and_its_group_fails(sandbox):
    test_pid, test_group = os.getpid(), os.getpgid(0)
    program = forging(f"""
        import signal
        for target in ({test_pid}, -{test_group}):
            if target > 1 or target < -1:  # never -1, 0 or PID 1
                try:
                    os.kill(target, signal.SIGKILL)
                    print("KILLED", target)
                except OSError:
                    pass
    """)
    result = run(sandbox, program)
    assert result.verdict == "failed" and "KILLED" not in result.stdout_tail
    assert_sandbox_still_works(sandbox)


def test_reading_secrets_from_the_environment_finds_nothing(monkeypatch):
    secret = f"sk-hostile-test-{uuid.uuid4().hex}"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    program = forging(f"""
        print(dict(os.environ))
        for path in ("/proc/{os.getpid()}/environ", "/proc/self/environ", "/proc/{os.getppid()}/environ"):
            try:
                print(open(path, "rb").read())
            except OSError:
                pass
    """)
    result = run_program(program, timeout_s=10, check=CHECK)
    assert result.verdict == "failed"
    assert secret not in result.stdout_tail and "OPENAI_API_KEY" not in result.stdout_tail


def test_killing_itself_is_not_a_pass(sandbox):
    result = run(sandbox, forging("import signal\nos.kill(os.getpid(), signal.SIGKILL)\nos.kill(0, signal.SIGTERM)"))
    assert result.verdict in ("failed", "error", "killed")


def test_in_process_forged_markers_are_not_a_pass(sandbox):
    """The old way (tests in the candidate's process) keeps its nonce proof: printed markers,
    guesses on every descriptor and exit 0 still end as an error."""
    program = ("import os, sys\nprint('PASSED')\nfor fd in range(3, 10):\n"
               "    for fake in (b'passed', os.urandom(16).hex().encode()):\n"
               "        try:\n            os.write(fd, fake)\n        except OSError:\n            pass\n"
               "sys.stdout.flush()\nos._exit(0)\n")
    result = sandbox.run(program, timeout_s=10)
    assert (result.verdict, result.isolation) == ("error", "in_process")
