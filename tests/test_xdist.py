"""pytest-xdist: the controller gathers every record from the workers' reports and writes the same
envelopes as a serial run; timing suites stay on one worker; several servers share the work."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from support.contract import ROOT, read_envelopes, require_extra, rows_by_name

require_extra("xdist", "pip install -e '.[dev]'")

ACCURACY_SUITE = """
import pytest, pytest_mlxbench
from helpers import score   # a sibling module: the controller must import this file as pytest does

pytestmark = pytest_mlxbench.suite("tool-calling")

def bench_summarize(samples):
    return [{"name": "accuracy", "metric": "accuracy", "value": score(samples), "unit": "ratio",
             "tags": {"cases": len(samples)}}]

@pytest.mark.parametrize("case", range(12))
def test_case(case, record_sample, record_metric, record_note, record_gen_kwargs):
    record_gen_kwargs(max_gen_toks=16, temperature=0.0)
    record_sample({"case": case, "right": case % 3 != 0})
    if case == 5:
        record_note("case 5 needed a retry")
    if case % 3 == 0:
        pytest_mlxbench.wrong_answer("wrong_value", f"case {case}")
"""
HELPERS = """
def score(samples):
    return sum(sample["right"] for sample in samples) / len(samples)
"""
TIMING_SUITE = """
import os, pytest, pytest_mlxbench

@pytest_mlxbench.suite("{suite}")
@pytest.mark.parametrize("n", range(3))
def test_timed(n, record_metric):
    record_metric(f"t{{n}}", "latency", 1.0, "seconds", tags={{"worker": os.environ.get("PYTEST_XDIST_WORKER", "-")}})
"""


def comparable(envelope: dict) -> dict:
    """The envelope without what differs between runs by nature: time, memory, and note order."""
    kept = {key: value for key, value in envelope.items() if key not in ("timestamp", "memory_snapshots", "errors")}
    kept["results"] = sorted(kept["results"], key=json.dumps)
    kept["errors"] = sorted(error for error in envelope["errors"] if not error.startswith("memory:"))
    return kept


def run(pytester, out: Path, *args: str):
    # "--bench-limit 100": no cap (without --mlx-model the tiny model's short settings cap suites at 8 cases)
    return pytester.runpytest_subprocess("--bench-out", str(out), "-p", "no:cacheprovider", "--bench-limit", "100",
                                         *args)


def test_xdist_writes_the_same_envelopes_as_a_serial_run(pytester, tmp_path):
    pytester.makepyfile(test_accuracy=ACCURACY_SUITE, helpers=HELPERS)
    serial = run(pytester, tmp_path / "serial")
    parallel = run(pytester, tmp_path / "parallel", "-n", "2")
    for result in (serial, parallel):
        result.assert_outcomes(passed=8, xfailed=4)
        assert result.ret == pytest.ExitCode.OK
    serial_envelope = read_envelopes(tmp_path / "serial")["tool-calling"]
    parallel_envelope = read_envelopes(tmp_path / "parallel")["tool-calling"]
    assert comparable(parallel_envelope) == comparable(serial_envelope)
    assert rows_by_name(parallel_envelope)["accuracy"]["value"] == pytest.approx(8 / 12)
    assert any("case 5 needed a retry" in error for error in parallel_envelope["errors"])
    [log] = (tmp_path / "parallel").glob("*.samples.jsonl")
    assert sorted(json.loads(line)["case"] for line in log.read_text().splitlines()) == list(range(12))
    phases = {snapshot["phase"] for snapshot in parallel_envelope["memory_snapshots"]}
    assert {"start", "end", "peak"} <= phases


def test_a_broken_summary_under_xdist_fails_the_run(pytester, tmp_path):
    pytester.makepyfile(test_accuracy=ACCURACY_SUITE.replace("score(samples)", "1 / 0"), helpers=HELPERS)
    result = run(pytester, tmp_path / "out", "-n", "2")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    envelope = read_envelopes(tmp_path / "out")["tool-calling"]
    assert any("bench_summarize failed" in error and "ZeroDivisionError" in error for error in envelope["errors"])


def test_timing_suites_run_on_one_worker(pytester, tmp_path):
    pytester.makepyfile(test_speed=TIMING_SUITE.format(suite="throughput"),
                        test_latency=TIMING_SUITE.format(suite="ttft"),
                        test_accuracy=ACCURACY_SUITE, helpers=HELPERS)
    result = run(pytester, tmp_path / "out", "-n", "2")
    result.assert_outcomes(passed=14, xfailed=4)
    envelopes = read_envelopes(tmp_path / "out")
    workers = {row["tags"]["worker"] for suite in ("throughput", "ttft") for row in envelopes[suite]["results"]}
    assert len(workers) == 1 and workers <= {"gw0", "gw1"}


# --- real suites, real servers -------------------------------------------------------------------

SUITES = str(ROOT / "bench_suites")
SMALL = ("--bench-limit", "5", "--max-tokens", "24")  # the later --bench-limit wins


def accuracy_rows(envelope: dict) -> dict:
    """Rows that do not measure time: the scores and counts a serial and a parallel run share."""
    return {row["name"]: row["value"] for row in envelope["results"]
            if row["metric"] not in ("latency", "decode_throughput", "duration")}


@pytest.mark.slow
def test_real_accuracy_suites_score_the_same_serially_and_with_two_workers(pytester, tmp_path):
    selection = ("-m", "tool-calling or code-accuracy", *SMALL)
    serial = run(pytester, tmp_path / "serial", SUITES, *selection)
    parallel = run(pytester, tmp_path / "parallel", SUITES, *selection, "-n", "2")
    assert serial.ret == parallel.ret == pytest.ExitCode.OK
    serial_envelopes, parallel_envelopes = read_envelopes(tmp_path / "serial"), read_envelopes(tmp_path / "parallel")
    assert set(serial_envelopes) == set(parallel_envelopes) == {"tool-calling", "code-accuracy"}
    for suite, envelope in serial_envelopes.items():
        assert accuracy_rows(parallel_envelopes[suite]) == accuracy_rows(envelope)
    logs = sorted(path.name for path in (tmp_path / "parallel" / "logs").glob("*.log"))
    assert [re.match(r"\d+T\d+Z-(gw\d)-", name).group(1) for name in logs] == ["gw0", "gw1"]


@pytest.fixture(scope="module")
def two_servers(tiny_model_dir, tmp_path_factory):
    from pytest_mlxbench.backends.server import ManagedServer

    servers = []
    try:
        for index in range(2):
            log = tmp_path_factory.mktemp(f"server{index}") / "server.log"
            servers.append(ManagedServer(tiny_model_dir, log).start())
        yield servers
    finally:
        for server in servers:
            server.stop()


@pytest.mark.slow
def test_two_server_urls_are_both_used_under_two_workers(pytester, tmp_path, two_servers):
    urls = ",".join(server.base_url for server in two_servers)
    before = [server.log_path.read_text().count("POST /v1/chat/completions") for server in two_servers]
    result = run(pytester, tmp_path / "out", SUITES, "-m", "tool-calling", *SMALL, "-n", "2",
                 "--mlx-base-url", urls)
    assert result.ret == pytest.ExitCode.OK
    after = [server.log_path.read_text().count("POST /v1/chat/completions") for server in two_servers]
    assert all(count_after > count_before for count_before, count_after in zip(before, after))
    envelope = read_envelopes(tmp_path / "out")["tool-calling"]
    for server in two_servers:
        assert any(error.startswith("servers:") and server.base_url in error for error in envelope["errors"])
    assert len(envelope["results"]) > 0


RULES = """
[[rule]]
suite = "throughput"
name = "t*"
max = 0.5

[[rule]]
suite = "ttft"
name = "t*"
max = 2.0
"""


def test_threshold_rules_are_judged_on_the_controller_under_xdist(pytester, tmp_path):
    pytester.makepyfile(test_speed=TIMING_SUITE.format(suite="throughput"),
                        test_latency=TIMING_SUITE.format(suite="ttft"))
    rules = pytester.makefile(".toml", rules=RULES)
    junit = tmp_path / "junit.xml"
    result = run(pytester, tmp_path / "out", "-n", "2", "-v", "--bench-thresholds", str(rules),
                 "--junitxml", str(junit))
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=7, failed=1)
    result.stdout.fnmatch_lines(["*rules.toml::rule0[[]throughput-value[]] FAILED*",
                                 "*rules.toml::rule1[[]ttft-value[]] PASSED*",
                                 "*throughput/t0*current 1 is above max 0.5*"])
    assert 'name="rule0[throughput-value]"' in junit.read_text()
    only_ttft = run(pytester, tmp_path / "out2", "-n", "2", "-m", "ttft", "--bench-thresholds", str(rules))
    assert only_ttft.ret == pytest.ExitCode.OK
    only_ttft.assert_outcomes(passed=4)
