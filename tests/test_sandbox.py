"""The sandbox's API: judged verdicts, in-process verdicts, call_all, limits, output caps, the
environment, uids, order, isolation report, and a worker killed from outside."""

from __future__ import annotations

import json
import os
import signal
import threading

import pytest

from pytest_mlxbench.sandbox import (
    FIRST_SANDBOX_UID,
    TAIL_BYTES,
    Check,
    Limits,
    Sandbox,
    SandboxError,
    default_timeout,
    run_program,
    run_programs,
)

IS_ROOT = os.geteuid() == 0
ADD_CHECK = Check(test="def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(-1, 1) == 0\n"
                       "check(candidate)\n", entry_point="add")


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(workers=2) as pool:
        yield pool


def judged(sandbox, code: str, check: Check = ADD_CHECK, **kwargs):
    return sandbox.run(code, timeout_s=kwargs.pop("timeout_s", 10), check=check, **kwargs)


# --- judged verdicts ----------------------------------------------------------------------


def test_a_right_answer_passes_in_the_judge(sandbox):
    result = judged(sandbox, "def add(a, b):\n    print('called', a, b)\n    return a + b\n")
    assert (result.verdict, result.isolation, result.calls) == ("passed", "judge", 2)
    assert result.stdout_tail == "called 2 3\ncalled -1 1\n"


def test_a_wrong_answer_fails_at_the_test_line(sandbox):
    result = judged(sandbox, "def add(a, b):\n    return a - b\n")
    assert (result.verdict, result.detail) == ("failed", "AssertionError")
    assert result.failing_line == "assert candidate(2, 3) == 5"


def test_an_exception_in_the_candidate_is_an_error_with_its_traceback(sandbox):
    result = judged(sandbox, "def add(a, b):\n    return a / 0\n")
    assert (result.verdict, result.detail) == ("error", "ZeroDivisionError: division by zero")
    assert 'program.py", line 2, in add' in result.stderr_tail
    assert result.failing_line == "assert candidate(2, 3) == 5"


def test_a_missing_entry_point_and_a_broken_program_are_errors(sandbox):
    missing = judged(sandbox, "def plus(a, b):\n    return a + b\n")
    assert (missing.verdict, missing.detail) == ("error", "NameError: name 'add' is not defined")
    broken = judged(sandbox, "def add(a, b:\n    return a + b\n")
    assert broken.verdict == "error" and broken.detail.startswith("SyntaxError")


def test_a_value_that_is_not_plain_data_is_unencodable(sandbox):
    result = judged(sandbox, "def add(a, b):\n    return (x for x in [a + b])\n")
    assert result.verdict == "unencodable"
    assert result.detail == "returned a value of type generator, which is not plain data"


def test_the_candidates_exception_can_be_caught_by_the_test(sandbox):
    check = Check(test="try:\n    candidate(-1)\nexcept ValueError as exc:\n    assert 'negative' in str(exc)\n"
                       "else:\n    raise AssertionError('no ValueError')\nassert candidate(4) == 2\n",
                  entry_point="root")
    code = "def root(x):\n    if x < 0:\n        raise ValueError('negative input')\n    return int(x ** 0.5)\n"
    assert judged(sandbox, code, check).verdict == "passed"


def test_context_helpers_belong_to_the_judge_not_the_candidate(sandbox):
    # HumanEval/32-style: the test uses a helper from the prompt; the candidate's own copy is ignored
    check = Check(context="def double(x):\n    return 2 * x\n", entry_point="f",
                  test="assert double(candidate(3)) == 12\n")
    assert judged(sandbox, "def double(x):\n    return 0\n\ndef f(x):\n    return x + 3\n", check).passed


def test_mbpp_style_asserts_name_the_function_and_exposed_helpers(sandbox):
    check = Check(test="import math\nassert area(2) == 4\nassert math.isclose(half(area(3)), 4.5)\n",
                  entry_point="area", expose=("half",))
    assert judged(sandbox, "def area(x):\n    return x * x\n\ndef half(x):\n    return x / 2\n", check).passed


def test_plain_data_crosses_both_ways_exactly(sandbox):
    values = [None, True, 3, 2**80, -0.0, float("inf"), 1 + 2j, "é\udc80", b"\x00", (1, [2, {3: frozenset({4})}]), set()]
    check = Check(test="for value in DATA:\n    got = candidate(value)\n    assert repr(got) == repr(value), (got, value)\n"
                       "nan = candidate(float('nan'))\nassert nan != nan\n", entry_point="echo", data=values)
    assert judged(sandbox, "def echo(x):\n    return x\n", check).passed


def test_records_come_back_as_outputs_and_a_call_limit_is_a_timeout(sandbox):
    check = Check(test="for n in DATA:\n    record(candidate.call([n], timeout_s=0.5))\n", entry_point="slow",
                  data=[1, 2, 50])
    result = judged(sandbox, "import time\ndef slow(n):\n    time.sleep(n / 100)\n    return n\n", check)
    assert result.verdict == "timeout"
    assert result.detail == "call 3 took longer than its limit of 0.5 s"
    assert result.outputs == (1, 2)


def test_a_test_that_passes_a_function_asks_for_in_process(sandbox):
    check = Check(test="assert candidate(lambda x: x + 1, 1) == 2\n", entry_point="apply")
    result = judged(sandbox, "def apply(f, x):\n    return f(x)\n", check)
    assert result.verdict == "error" and result.needs_in_process
    assert "cannot cross processes" in result.detail


def test_call_all_returns_each_output_as_data(sandbox):
    result = sandbox.call_all("def f(x):\n    return 10 // x\n", "f", [[5], [0], [2]], timeout_s=10)
    assert result.verdict == "passed"
    assert [{key: value for key, value in output.items() if key != "seconds"} for output in result.outputs] == [
        {"value": 2}, {"raised": "ZeroDivisionError", "message": "integer division or modulo by zero"}, {"value": 5}]
    assert all(output["seconds"] >= 0 for output in result.outputs)


def test_check_data_must_be_plain_data(sandbox):
    with pytest.raises(ValueError, match="Check.data must be plain data"):
        judged(sandbox, "def add(a, b):\n    return a + b\n", Check(test="pass", entry_point="add", data=object()))


@pytest.mark.parametrize("fields", [{"entry_point": "not a name"}, {"expose": ("ok", "1bad")}, {"call_timeout_s": 0}])
def test_check_refuses_bad_fields(fields):
    with pytest.raises(ValueError):
        Check(**{"test": "pass", "entry_point": "f", **fields})


# --- in process (the old way) -------------------------------------------------------------


def test_in_process_program_that_returns_normally_passes(sandbox):
    result = sandbox.run("assert sum([1, 2]) == 3\nprint('ran')", timeout_s=5)
    assert (result.verdict, result.isolation, result.stdout_tail, result.exit_code) == ("passed", "in_process", "ran\n", 0)


def test_in_process_assertion_error_is_failed_with_its_message(sandbox):
    result = sandbox.run("assert 1 + 1 == 3, 'arithmetic is off'", timeout_s=5)
    assert (result.verdict, result.detail) == ("failed", "AssertionError: arithmetic is off")
    assert "AssertionError: arithmetic is off" in result.stderr_tail


def test_in_process_other_exception_is_error_without_the_runner_frame(sandbox):
    result = sandbox.run("def f():\n    return 1 / 0\nf()", timeout_s=5)
    assert (result.verdict, result.detail) == ("error", "ZeroDivisionError: division by zero")
    assert "candidate.py" not in result.stderr_tail


def test_in_process_exit_zero_is_not_a_pass(sandbox):
    result = sandbox.run("import os\nos._exit(0)", timeout_s=5)
    assert (result.verdict, result.exit_code) == ("error", 0)
    assert "no pass proof" in result.detail


# --- limits -------------------------------------------------------------------------------


def test_an_infinite_loop_times_out_and_the_worker_serves_on(sandbox):
    result = judged(sandbox, "def add(a, b):\n    while True:\n        pass\n", timeout_s=1)
    assert result.verdict == "timeout" and result.duration_s >= 1
    assert judged(sandbox, "def add(a, b):\n    return a + b\n").passed


def test_cpu_limit_kills(sandbox):
    result = sandbox.run("while True:\n    pass", timeout_s=60, limits=Limits(cpu_seconds=1))
    assert result.verdict == "killed"
    assert result.detail.startswith("CPU time limit")


def test_memory_limit_kills(sandbox):
    result = judged(sandbox, "def add(a, b):\n    return len(bytearray(512 * 1024 * 1024))\n",
                    limits=Limits(address_space_bytes=256 * 1024**2))
    assert result.verdict == "killed"
    assert "MemoryError" in result.detail


def test_file_size_limit_kills(sandbox):
    program = "with open('big.bin', 'wb') as out:\n    out.write(b'x' * 200_000)"
    result = sandbox.run(program, timeout_s=10, limits=Limits(file_size_bytes=100_000))
    assert result.verdict == "killed"
    assert "File too large" in result.detail


def test_output_over_the_limit_kills_and_keeps_only_the_tail(sandbox):
    program = "import sys\nfor i in range(1000):\n    sys.stdout.write(str(i % 10) * 1000)\n"
    result = sandbox.run(program, timeout_s=10, limits=Limits(output_bytes=50_000))
    assert (result.verdict, result.detail) == ("killed", "output limit exceeded: killed")
    assert 0 < len(result.stdout_tail) <= TAIL_BYTES


def test_stdout_and_stderr_tails_are_capped_to_their_last_bytes(sandbox):
    program = "import sys\nprint('a' * 10_000 + 'END-OUT')\nprint('b' * 10_000 + 'END-ERR', file=sys.stderr)"
    result = sandbox.run(program, timeout_s=5)
    assert result.verdict == "passed"
    assert len(result.stdout_tail) == TAIL_BYTES and result.stdout_tail.endswith("END-OUT\n")
    assert len(result.stderr_tail) == TAIL_BYTES and result.stderr_tail.endswith("END-ERR\n")


@pytest.mark.parametrize("field", ["cpu_seconds", "address_space_bytes", "max_processes", "output_bytes",
                                   "file_size_bytes", "disk_bytes", "max_files", "message_bytes"])
def test_limits_reject_non_positive_values(field):
    with pytest.raises(ValueError, match=field):
        Limits(**{field: 0})


def test_default_timeout_scales_canonical_runtime_with_a_floor():
    assert default_timeout(0.01) == 4.0
    assert default_timeout(2.5) == 10.0


# --- environment, uid, order, state -------------------------------------------------------


def test_working_directory_is_fresh_and_private(sandbox):
    program = "import os\nopen('scratch.txt', 'w').write('data')\nprint(os.getcwd(), sorted(os.listdir('.')))"
    first, second = (sandbox.run(program, timeout_s=5) for _ in range(2))
    assert first.stdout_tail == second.stdout_tail  # the second candidate did not find the first one's file
    assert first.stdout_tail.endswith("['scratch.txt']\n")


def test_child_environment_has_no_secrets(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-fake-key-for-the-sandbox-test")
    monkeypatch.setenv("HF_TOKEN", "hf-fake-token")
    result = run_program("import os, json\nprint(json.dumps(dict(os.environ)))", timeout_s=5)
    environment = json.loads(result.stdout_tail)
    assert "sk-fake-key-for-the-sandbox-test" not in result.stdout_tail
    assert set(environment) <= {"PATH", "LANG", "PYTHONDONTWRITEBYTECODE", "HOME", "TMPDIR"}


@pytest.mark.skipif(not IS_ROOT, reason="the uid switch happens only when the sandbox starts as root")
def test_candidate_and_judge_run_as_two_unprivileged_uids_when_root(sandbox):
    check = Check(test="import os\nrecord(os.getuid())\ncandidate()\n", entry_point="who")
    result = judged(sandbox, "import os\ndef who():\n    print(os.getuid(), os.geteuid(), os.getgid(), os.getgroups())\n",
                    check)
    uid, euid, gid, groups = result.stdout_tail.split(" ", 3)
    assert int(uid) == int(euid) == int(gid) >= FIRST_SANDBOX_UID and groups.strip() == "[]"
    [judge_uid] = result.outputs
    assert judge_uid >= FIRST_SANDBOX_UID and judge_uid != int(uid)


@pytest.mark.skipif(not IS_ROOT, reason="every protection is in force only as root on this machine")
def test_isolation_report_when_root(sandbox):
    isolation = sandbox.isolation
    assert isolation.in_force() == ("separate_uid", "network_isolated", "pid_namespace", "filesystem_protected",
                                    "judge_separate_uid", "ipc_namespace", "disk_limited", "seccomp")\
        + tuple(name for name in ("memory_cgroup", "pids_cgroup") if getattr(isolation, name))
    assert all("cgroup" in note for note in isolation.notes)


def test_run_programs_keeps_input_order_while_running_in_parallel():
    programs = [f"import time\ntime.sleep({(5 - i) * 0.05})\nprint({i})" for i in range(6)]
    results = run_programs(programs, timeout_s=10, workers=3)
    assert [r.stdout_tail.strip() for r in results] == [str(i) for i in range(6)]
    assert all(r.passed for r in results)
    assert run_programs([], timeout_s=1) == []


def test_each_candidate_starts_from_a_pristine_interpreter(sandbox):
    sandbox.run("import math\nmath.pi = 3\nimport builtins\nbuiltins.LEAK = 1", timeout_s=5)
    results = [sandbox.run("import math, builtins\nprint(math.pi, hasattr(builtins, 'LEAK'))", timeout_s=5) for _ in range(2)]
    assert [r.stdout_tail for r in results] == ["3.141592653589793 False\n"] * 2


def test_a_worker_killed_mid_run_is_a_sandbox_error_and_the_next_run_gets_a_fresh_worker():
    """A real fault of our machinery: the worker process is SIGKILLed from outside while a
    candidate sleeps. That is a harness error (SandboxError), never a verdict of the candidate."""
    with Sandbox(workers=1) as pool:
        [pid] = pool.worker_pids
        killer = threading.Timer(0.5, lambda: os.kill(pid, signal.SIGKILL))
        killer.start()
        try:
            with pytest.raises(SandboxError, match="sandbox worker stopped answering"):
                pool.run("import time\ntime.sleep(30)\n", timeout_s=2.0)
        finally:
            killer.cancel()
        assert judged(pool, "def add(a, b):\n    return a + b\n").passed
