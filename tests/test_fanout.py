"""--bench-concurrency: the tool-calling suite's requests sent ahead, against the timing stub (a
real loopback server that logs when each request arrived and when its reply left).

Overlap is proven by causality, not by timing: with requests sent ahead, a later case's request
reaches the stub before an earlier case's reply has left it; one at a time, never. The stub
answers after a fixed delay, so the replies, and with them the verdicts, do not depend on timing.
"""

from __future__ import annotations

import json

import pytest
from support.contract import ROOT, read_envelopes, require_extra, rows_by_name
from support.timing_stub import TimingStub

SUITE = ROOT / "bench_suites" / "test_tool_calling.py"


def run_cases(pytester, out, base_url, *args):
    return pytester.runpytest_subprocess(str(SUITE), "--bench-out", str(out), "-p", "no:cacheprovider",
                                         "--mlx-base-url", base_url, *args)


def verdicts(out) -> dict:
    [samples] = list(out.glob("*.samples.jsonl"))
    return {sample["id"]: sample["verdict"] for sample in map(json.loads, samples.read_text().splitlines())}


def overlapping(log: list[dict]) -> int:
    """How many requests arrived while an earlier-arrived request's reply had not left yet."""
    ordered = sorted(log, key=lambda entry: entry["received"])
    return sum(later["received"] < earlier["sends"][0] for earlier, later in zip(ordered, ordered[1:]))


@pytest.fixture
def stub():
    with TimingStub(first_ms=100) as server:
        yield server


def test_requests_go_ahead_in_item_order_and_scores_stay_the_same(pytester, tmp_path, stub):
    serial = run_cases(pytester, tmp_path / "serial", stub.base_url, "--bench-limit", "12", "--bench-concurrency", "1")
    serial_log = stub.drain_log()
    fanned = run_cases(pytester, tmp_path / "fanned", stub.base_url, "--bench-limit", "12", "--bench-concurrency", "4")
    fanned_log = stub.drain_log()
    assert serial.ret == fanned.ret == 0
    assert overlapping(serial_log) == 0 and len(serial_log) == 12
    assert overlapping(fanned_log) >= 6 and len(fanned_log) == 12  # each case asked once
    assert verdicts(tmp_path / "fanned") == verdicts(tmp_path / "serial")
    serial_rows = rows_by_name(read_envelopes(tmp_path / "serial")["tool-calling"])
    fanned_rows = rows_by_name(read_envelopes(tmp_path / "fanned")["tool-calling"])
    assert {name: row["value"] for name, row in fanned_rows.items() if name.startswith("accuracy")} == \
           {name: row["value"] for name, row in serial_rows.items() if name.startswith("accuracy")}
    serial.stdout.fnmatch_lines(["*12 xfailed*"])
    fanned.stdout.fnmatch_lines(["*12 xfailed*"])


def test_only_the_items_that_run_are_asked(pytester, tmp_path, stub):
    result = run_cases(pytester, tmp_path / "out", stub.base_url, "-k", "simple_2 or parallel_5 or irrelevance_4",
                       "--bench-concurrency", "8")
    assert result.ret == 0
    ran = set(verdicts(tmp_path / "out"))
    assert len(stub.drain_log()) == len(ran) == 3


def test_a_failed_request_fails_only_its_own_case(pytester, tmp_path):
    with TimingStub(first_ms=20, fail_every=4) as stub:  # the 4th and 8th requests answer HTTP 500
        result = run_cases(pytester, tmp_path / "out", stub.base_url, "--bench-limit", "8", "--bench-concurrency", "4")
    result.assert_outcomes(failed=2, xfailed=6)
    result.stdout.fnmatch_lines(["*request failed (harness error, not a model miss): the server answered HTTP 500*"])


def test_under_xdist_each_worker_sends_ahead_for_its_own_items(pytester, tmp_path, stub):
    require_extra("xdist", "pip install -e '.[dev]'")
    serial = run_cases(pytester, tmp_path / "serial", stub.base_url, "--bench-limit", "16", "--bench-concurrency", "1")
    stub.drain_log()
    spread = run_cases(pytester, tmp_path / "xdist", stub.base_url, "--bench-limit", "16", "--bench-concurrency", "4",
                       "-n", "2")
    log = stub.drain_log()
    assert serial.ret == spread.ret == 0
    assert len(log) == 16 and overlapping(log) >= 8  # every case asked once; two workers, each ahead
    assert verdicts(tmp_path / "xdist") == verdicts(tmp_path / "serial")
