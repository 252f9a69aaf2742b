"""The managed server's life, with real faults: a model it cannot load, a server that dies in the
middle of a suite, SIGTERM and SIGKILL to pytest, two runs sharing one output directory. Each
fault is said once, in one line per affected test, and no server outlives its run."""

import json
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest
from support.contract import ROOT, read_envelopes, rows_by_name
from support.processes import (
    WAITING_SUITE,
    BackgroundRun,
    kill_leftovers,
    started_processes,
    stop_with,
    survivors,
)

SUITES = ROOT / "bench_suites"


@pytest.fixture
def unloadable_model(tiny_model_dir, tmp_path):
    """A model directory that passes the up-front checks but that mlx-lm cannot load."""
    target = tmp_path / "unloadable"
    shutil.copytree(tiny_model_dir, target)
    config = json.loads((target / "config.json").read_text())
    config["model_type"] = "nosucharch"
    (target / "config.json").write_text(json.dumps(config))
    return target


def test_a_model_the_server_cannot_load_fails_within_seconds_with_the_log_line(pytester, unloadable_model):
    pytester.makepyfile(test_two="""
        import pytest_mlxbench
        pytestmark = pytest_mlxbench.suite("ttft")

        def test_one(openai_client):
            pass

        def test_two(mlx_endpoint):
            pass
    """)
    out = pytester.path / "out"
    started = time.monotonic()
    result = pytester.runpytest_subprocess("--mlx-model", str(unloadable_model), "--bench-out", str(out))
    assert time.monotonic() - started < 30
    result.assert_outcomes(errors=2)
    output = result.stdout.str()
    assert "Traceback" not in output and "404" not in output
    log_line = ("the managed mlx_lm.server could not start: the mlxbench server summary says why; "
                "log: */out/logs/*-mlx_lm-server.log")
    result.stdout.fnmatch_lines(["*_ ERROR at setup of test_one _*", log_line,  # each test: one short line
                                 "*_ ERROR at setup of test_two _*", log_line, "*= mlxbench =*"])
    cause = ("mlx_lm.server could not start: ValueError: Model type nosucharch not supported.; the server reported "
             "itself unhealthy (HTTP 503 on /health); log: *-mlx_lm-server.log")
    result.stdout.fnmatch_lines(["*= mlxbench server =*", cause])
    assert output.count("Model type nosucharch not supported") == 1  # the cause, once
    envelope = read_envelopes(out)["ttft"]
    assert sum("Model type nosucharch not supported" in error for error in envelope["errors"]) == 1


def test_a_server_that_cannot_answer_chat_requests_fails_with_its_reply(tiny_model_dir, tmp_path):
    """mlx-lm loads the model but fails the first request (here its chat template raises): the
    readiness request's status is not worth waiting on, and the reply says why."""
    from pytest_mlxbench.backends.server import ManagedServer, ServerError

    model = tmp_path / "bad-template"
    shutil.copytree(tiny_model_dir, model)
    tokenizer_config = json.loads((model / "tokenizer_config.json").read_text())
    tokenizer_config["chat_template"] = "{{ raise_exception('this template refuses every conversation') }}"
    (model / "tokenizer_config.json").write_text(json.dumps(tokenizer_config))
    started = time.monotonic()
    with pytest.raises(ServerError) as failure:
        ManagedServer(model, tmp_path / "server.log").start()
    assert time.monotonic() - started < 30
    assert str(failure.value) == (
        "mlx_lm.server could not start: it answered '{\"error\": \"this template refuses every conversation\"}'; "
        f"the server answered HTTP 404 to its first chat request; log: {tmp_path / 'server.log'}")


KILL_AFTER_REQUESTS = """
import re, signal, os, threading, time
import pytest

@pytest.fixture(autouse=True)
def kill_server_mid_test(request):
    '''The real fault: SIGKILL to the server once it has answered a few of this test's requests.'''
    if "mlx_endpoint" not in request.fixturenames or request.node.name != "test_ttft":
        yield
        return
    server = request.getfixturevalue("mlx_endpoint").server
    seen = open(server.log_path).read().count("POST /v1/chat/completions")

    def kill_after_three():
        for _ in range(600):
            if open(server.log_path).read().count("POST /v1/chat/completions") >= seen + 3:
                os.kill(server.process.pid, signal.SIGKILL)
                return
            time.sleep(0.05)

    threading.Thread(target=kill_after_three, daemon=True).start()
    yield
"""


@pytest.mark.slow
def test_a_server_that_dies_mid_suite_is_said_once_and_each_later_test_is_one_line(pytester):
    pytester.makepyfile(kill_mid_test=KILL_AFTER_REQUESTS)  # a plugin (-p): the suites live elsewhere
    out = pytester.path / "out"
    result = pytester.runpytest_subprocess(
        str(SUITES / "test_ttft.py"), str(SUITES / "test_tool_calling.py"), "--rootdir", str(ROOT),
        "-p", "kill_mid_test", "--bench-out", str(out), "-p", "no:cacheprovider", "--ttft-requests", "40",
        "--bench-limit", "3")
    output = result.stdout.str()
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert "Traceback" not in output and "httpx" not in output and "site-packages" not in output
    outcomes = result.parseoutcomes()
    assert outcomes["failed"] == 1 and outcomes["errors"] == 3  # ttft during, the 3 tool-calling cases after
    result.stdout.fnmatch_lines([
        "*_ test_ttft _*",
        "the managed mlx_lm.server died during this test: killed by SIGKILL; log: *-mlx_lm-server.log",
    ])
    later = "the managed mlx_lm.server died at test 1 (killed by SIGKILL); log: *-mlx_lm-server.log"
    result.stdout.fnmatch_lines([line for _ in range(3) for line in ("*_ ERROR at setup of test_tool_call*", later)])
    summary = ("the managed mlx_lm.server died during test 1 (*test_ttft.py::test_ttft): killed by SIGKILL; "
               "last log line: '*'; log: *-mlx_lm-server.log")
    result.stdout.fnmatch_lines(["*= mlxbench server =*", summary])
    assert output.count("last log line:") == 1
    envelopes = read_envelopes(out)
    assert {"ttft", "tool-calling"} <= set(envelopes)
    for envelope in envelopes.values():
        assert sum(error.startswith("the managed mlx_lm.server died during test 1") for error in envelope["errors"]) == 1


def test_sigterm_stops_the_tests_writes_what_was_measured_and_stops_the_server(pytester):
    pytester.makepyfile(test_waits=WAITING_SUITE)
    out = pytester.path / "out"
    run = BackgroundRun(pytester.path, "--bench-out", str(out), "-p", "no:cacheprovider", marker=pytester.path / "pids")
    processes = started_processes(run.wait_for_marker())
    assert stop_with(run, signal.SIGTERM, processes) == pytest.ExitCode.INTERRUPTED
    output = run.output()
    assert "Terminated: SIGTERM" in output
    envelope = read_envelopes(out)["ttft"]
    rows = rows_by_name(envelope)
    assert rows["completion_tokens"]["value"] == 2 and rows["started"]["value"] == 1
    assert "run interrupted (SIGTERM): results cover what was measured before" in envelope["errors"]
    assert any("test_waits_to_be_stopped: interrupted before it finished" in error for error in envelope["errors"])


@pytest.mark.parametrize("platform_guard", ["kernel", "watchdog"])
def test_sigkill_of_pytest_takes_the_server_with_it(pytester, platform_guard):
    """PR_SET_PDEATHSIG on Linux; the watchdog, macOS's guard, forced here the way the process
    module falls back to it (where the kernel's guard is not available)."""
    pytester.makepyfile(test_waits=WAITING_SUITE)
    if platform_guard == "watchdog":
        pytester.makeconftest("""
            def pytest_configure(config):
                from pytest_mlxbench.backends import process
                process.kernel_guard_available = lambda: False
        """)
    run = BackgroundRun(pytester.path, "--bench-out", str(pytester.path / "out"), "-p", "no:cacheprovider",
                        marker=pytester.path / "pids")
    stop_with(run, signal.SIGKILL, started_processes(run.wait_for_marker()))


def test_the_watchdog_stops_a_group_whose_parent_was_killed(tmp_path):
    """A parent started from a thread (no kernel guard), whose member has a child of its own."""
    script = tmp_path / "parent.py"
    script.write_text(f"""
import json, sys, threading, time
from pathlib import Path
sys.path.insert(0, {str(ROOT)!r})
from pytest_mlxbench.backends.process import ProcessGroup
group = ProcessGroup()
def start():
    group.spawn("shell", ["sh", "-c", "sleep 300 & echo $! > {tmp_path / 'grandchild'}; wait"],
                Path({str(tmp_path / 'member.log')!r}), {{}}, starts_children=True)
thread = threading.Thread(target=start)
thread.start(); thread.join()
while not Path({str(tmp_path / 'grandchild')!r}).exists():
    time.sleep(0.02)
print(json.dumps({{"member": group.members["shell"].pid, "watchdog": group.watchdog.pid,
                  "grandchild": int(Path({str(tmp_path / 'grandchild')!r}).read_text())}}), flush=True)
time.sleep(300)
""")
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, start_new_session=True)
    line = [None]
    reader = threading.Thread(target=lambda: line.__setitem__(0, parent.stdout.readline()), daemon=True)
    reader.start()
    reader.join(30)
    if not line[0]:
        parent.kill()
        pytest.fail("the parent script did not start its group")
    processes = started_processes(json.loads(line[0]))
    try:
        parent.kill()
        parent.wait(10)
        assert survivors(processes) == []
    finally:
        kill_leftovers(processes)


@pytest.mark.slow
def test_two_runs_sharing_an_output_directory_keep_their_own_server_log(pytester):
    pytester.makepyfile(test_port="""
        import os
        def test_port(openai_client, mlx_endpoint):
            openai_client.chat.completions.create(
                model=mlx_endpoint.model, messages=[{"role": "user", "content": "hi"}], max_tokens=2)
            with open(os.environ["MLXBENCH_TEST_MARKER"], "w") as out:
                out.write(str(mlx_endpoint.server.port))
    """)
    out = pytester.path / "shared-out"
    runs = [BackgroundRun(pytester.path, "--bench-out", str(out), "-p", "no:cacheprovider",
                          marker=pytester.path / f"port{index}") for index in range(2)]
    for run in runs:
        assert run.wait(120) == 0, run.output()
    ports = {int(run.marker.read_text()) for run in runs}
    logs = sorted((out / "logs").glob("*-mlx_lm-server.log"))
    assert len(ports) == 2 and len(logs) == 2
    for log in logs:
        text = log.read_text()
        [started] = [line for line in text.splitlines() if "Starting httpd at" in line]  # one server per log
        assert int(started.rsplit("port ", 1)[1].rstrip(".")) in ports
        assert text.count("POST /v1/chat/completions") == 2  # its readiness request and its test's
