"""Hostile candidates: each attack is contained, is not scored as a pass, and leaves everything
outside the sandbox as it was.

Safety of the tests themselves: no attack ever signals process -1 or PID 1 (every kill target is
checked to be > 1 first), files are only attacked inside directories these tests create, and every
attack is bounded (the fork bomb by depth and fan-out, the big output by a loop count) so that it
would stop on its own even if containment failed.
"""

from __future__ import annotations

import os
import socket
import stat
import tempfile
import textwrap
import uuid
from dataclasses import dataclass

import pytest

from pytest_mlxbench.sandbox import TAIL_BYTES, Limits, Sandbox, run_program
from pytest_mlxbench.suites.code_accuracy.extraction import build_program


@dataclass(frozen=True)
class AddProblem:
    prompt: str = 'def add(a: int, b: int) -> int:\n    """Return a + b."""\n'
    entry_point: str = "add"
    test: str = "def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(-1, 1) == 0\n"


PROBLEM = AddProblem()


def hostile(code: str) -> str:
    """A full program whose candidate runs ``code`` when defined and then answers wrongly."""
    completion = textwrap.dedent(code) + "\n\ndef add(a, b):\n    return a - b\n"
    return build_program(PROBLEM, completion)


def forging(code: str) -> str:
    """A program whose candidate runs ``code`` (meant to fake a pass) when the check calls it."""
    body = textwrap.indent(textwrap.dedent(code), "    ")
    return build_program(PROBLEM, f"def add(a, b):\n{body}\n    return a - b\n")


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(workers=2) as pool:
        yield pool


def assert_sandbox_still_works(sandbox: Sandbox) -> None:
    result = sandbox.run(build_program(PROBLEM, "def add(a, b):\n    return a + b\n"), timeout_s=10)
    assert result.verdict == "passed"


def sandbox_uid_processes(uid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and os.stat(f"/proc/{entry}").st_uid == uid:
                pids.append(int(entry))
        except FileNotFoundError:
            continue
    return pids


@pytest.fixture
def canary_dir():
    """A directory of our own, readable by everyone but writable only by us, holding a canary."""
    directory = tempfile.mkdtemp(prefix="mlxbench-canary-")
    os.chmod(directory, 0o755)
    canary = os.path.join(directory, "canary.txt")
    with open(canary, "w") as handle:
        handle.write("untouched")
    os.chmod(canary, 0o644)
    yield directory
    for name in os.listdir(directory):
        os.remove(os.path.join(directory, name))
    os.rmdir(directory)


def test_bounded_fork_bomb_is_capped_by_the_process_limit_and_cleaned_up(sandbox):
    program = hostile("""
        import os, sys, time
        def spawn(depth):
            for _ in range(6):  # at most 6 + 36 + 216 processes even without containment
                try:
                    pid = os.fork()
                except OSError:
                    return
                if pid == 0:
                    os.write(1, b"+")
                    if depth < 3:
                        spawn(depth + 1)
                    time.sleep(20)
                    os._exit(0)
        print(os.getuid(), flush=True)
        spawn(1)
        time.sleep(20)
    """)
    result = sandbox.run(program, timeout_s=2, limits=Limits(max_processes=12))
    assert result.verdict == "timeout"
    uid_line, _, forks = result.stdout_tail.partition("\n")
    assert 0 < forks.count("+") < 12
    if os.geteuid() == 0:
        assert sandbox_uid_processes(int(uid_line)) == []
    assert_sandbox_still_works(sandbox)


def test_writing_and_deleting_files_outside_the_sandbox_fails(sandbox, canary_dir):
    canary = os.path.join(canary_dir, "canary.txt")
    stray_in_tmp = os.path.join(tempfile.gettempdir(), f"mlxbench-hostile-{uuid.uuid4().hex}")
    program = hostile(f"""
        import os
        attempts = [
            lambda: os.remove({canary!r}),
            lambda: open({canary!r}, "w").write("overwritten"),
            lambda: open({canary_dir!r} + "/planted.txt", "w").write("planted"),
            lambda: os.rename({canary!r}, {canary!r} + ".moved"),
            lambda: os.chmod({canary!r}, 0o777),
            lambda: open({stray_in_tmp!r}, "w").write("stray"),
        ]
        for attempt in attempts:
            try:
                attempt()
                print("SUCCEEDED")
            except OSError as exc:
                print("blocked", exc.errno)
    """)
    try:
        result = sandbox.run(program, timeout_s=10)
        assert result.verdict == "failed"
        assert "SUCCEEDED" not in result.stdout_tail
        assert result.stdout_tail.count("blocked") == 6
        with open(canary) as handle:
            assert handle.read() == "untouched"
        assert sorted(os.listdir(canary_dir)) == ["canary.txt"]
        assert stat.S_IMODE(os.stat(canary).st_mode) == 0o644
        assert not os.path.exists(stray_in_tmp)
    finally:
        if os.path.exists(stray_in_tmp):
            os.remove(stray_in_tmp)


def test_network_connection_to_a_local_listener_never_arrives(sandbox):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(5)
        listener.settimeout(0.5)
        port = listener.getsockname()[1]
        program = hostile(f"""
            import socket
            try:
                with socket.create_connection(("127.0.0.1", {port}), timeout=2) as conn:
                    conn.sendall(b"exfiltrated")
                print("CONNECTED")
            except OSError as exc:
                print("blocked", exc)
        """)
        result = sandbox.run(program, timeout_s=10)
        assert result.verdict == "failed"
        assert "CONNECTED" not in result.stdout_tail
        with pytest.raises(socket.timeout):
            listener.accept()
        with socket.create_connection(("127.0.0.1", port), timeout=2):  # the listener itself works
            connection, _ = listener.accept()
            connection.close()


def test_allocating_ten_gigabytes_is_killed(sandbox):
    result = sandbox.run(hostile("hoard = bytearray(10 * 1024**3)"), timeout_s=10)
    assert result.verdict == "killed"
    assert "MemoryError" in result.detail


def test_growing_allocation_is_killed_at_the_address_space_limit(sandbox):
    program = hostile("""
        hoard = []
        for _ in range(100):  # 10 GB at most
            hoard.append(bytearray(100 * 1024**2))
    """)
    result = sandbox.run(program, timeout_s=20, limits=Limits(address_space_bytes=1024**3))
    assert result.verdict == "killed"


def test_infinite_loop_is_stopped(sandbox):
    result = sandbox.run(hostile("while True:\n    pass"), timeout_s=1)
    assert result.verdict == "timeout"
    assert_sandbox_still_works(sandbox)


def test_printing_a_gigabyte_is_cut_off(sandbox):
    program = hostile("""
        import sys
        chunk = "x" * 1024 * 1024
        for _ in range(1024):
            sys.stdout.write(chunk)
    """)
    result = sandbox.run(program, timeout_s=60)
    assert result.verdict == "killed"
    assert result.detail == "output limit exceeded: killed"
    assert len(result.stdout_tail) <= TAIL_BYTES


def test_killing_the_parent_and_its_group_leaves_the_test_process_alive(sandbox):
    test_pid, test_group = os.getpid(), os.getpgid(0)
    program = hostile(f"""
        import os, signal
        for target in (os.getppid(), {test_pid}):
            if target > 1:  # never signal -1, 0 or PID 1
                try:
                    os.kill(target, signal.SIGKILL)
                    print("KILLED", target)
                except OSError as exc:
                    print("blocked", exc.errno)
        for group in ({test_group},):
            if group > 1:
                try:
                    os.killpg(group, signal.SIGKILL)
                    print("KILLED GROUP", group)
                except OSError as exc:
                    print("blocked", exc.errno)
    """)
    result = sandbox.run(program, timeout_s=10)
    assert result.verdict == "failed"
    assert "KILLED" not in result.stdout_tail
    os.kill(test_pid, 0)  # we are still here (trivially) and still own our pid
    assert_sandbox_still_works(sandbox)


def test_reading_secrets_from_the_environment_finds_nothing(monkeypatch):
    secret = f"sk-hostile-test-{uuid.uuid4().hex}"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    program = hostile(f"""
        import os
        print(dict(os.environ))
        for path in ("/proc/{os.getpid()}/environ", "/proc/1/environ", "/proc/self/environ"):
            try:
                print(open(path, "rb").read())
            except OSError as exc:
                print("blocked", path, exc.errno)
    """)
    result = run_program(program, timeout_s=10)
    assert result.verdict == "failed"
    assert secret not in result.stdout_tail
    assert "OPENAI_API_KEY" not in result.stdout_tail


def test_os_exit_zero_before_the_check_is_not_a_pass(sandbox):
    result = sandbox.run(forging("import os\nos._exit(0)"), timeout_s=10)
    assert result.verdict == "error"
    assert result.exit_code == 0
    assert "no pass proof" in result.detail


def test_sys_exit_zero_is_not_a_pass(sandbox):
    result = sandbox.run(forging("import sys\nsys.exit(0)"), timeout_s=10)
    assert result.verdict == "error"
    assert result.detail == "SystemExit: 0"


def test_closing_stdout_and_stderr_does_not_hide_the_failure(sandbox):
    result = sandbox.run(hostile("import os, sys\nsys.stdout.close()\nos.close(1)\nos.close(2)"), timeout_s=10)
    assert result.verdict == "failed"


def test_closing_stdout_then_exiting_zero_is_not_a_pass(sandbox):
    result = sandbox.run(forging("import os\nos.close(1)\nos.close(2)\nos._exit(0)"), timeout_s=10)
    assert result.verdict == "error"


def test_forged_pass_markers_are_not_a_pass(sandbox):
    program = forging("""
        import os, sys
        print("PASSED")
        print("all checks passed", file=sys.stderr)
        for fd in range(3, 10):
            for fake in (b"passed", b"0" * 32, os.urandom(16).hex().encode()):
                try:
                    os.write(fd, fake)
                except OSError:
                    pass
        sys.stdout.flush()
        os._exit(0)
    """)
    result = sandbox.run(program, timeout_s=10)
    assert result.verdict == "error"
    assert result.stdout_tail.startswith("PASSED")


def test_monkeypatching_os_cannot_hijack_the_proof(sandbox):
    # The runner keeps its own os.read/os.write/os._exit: a right answer still passes, a wrong
    # one still fails, whatever the candidate did to the os module.
    patch = "import os\nos.write = lambda fd, data: len(data)\nos.read = lambda fd, n: b'0' * 32\nos._exit = lambda code: None\n"
    honest = build_program(PROBLEM, patch + "\ndef add(a, b):\n    return a + b\n")
    assert sandbox.run(honest, timeout_s=10).verdict == "passed"
    assert sandbox.run(hostile(patch), timeout_s=10).verdict == "failed"


def test_killing_itself_is_not_a_pass(sandbox):
    result = sandbox.run(forging("import os, signal\nos.kill(os.getpid(), signal.SIGTERM)"), timeout_s=10)
    assert result.verdict == "error"
    assert result.signal_name == "SIGTERM"
