"""The tool-calling suite's rows from hand-written samples: accuracy, failure kinds, errors, latency, decode."""

import pytest

from pytest_mlxbench.envelope import check_result_row
from pytest_mlxbench.suites.tool_calling.checker import FAILURE_KINDS
from pytest_mlxbench.suites.tool_calling.summary import bench_summarize

SHIPPED = {"questions": "shipped", "answers": "shipped"}


def sample(case_id, passed=True, kind=None, latency_s=1.0, completion_tokens=None, source=SHIPPED):
    category = case_id.rsplit("_", 1)[0]
    return {
        "id": case_id, "category": category, "source": source,
        "request": {"model": "m", "messages": [], "tools": []},
        "reply": {"role": "assistant", "content": ""},
        "verdict": {"passed": passed, "kind": kind, "detail": "" if passed else f"{kind}: detail"},
        "error": None, "latency_s": latency_s,
        "usage": None if completion_tokens is None else {"prompt_tokens": 50, "completion_tokens": completion_tokens},
    }


def harness_error(case_id, latency_s=0.01):
    return {**sample(case_id, latency_s=latency_s), "reply": None, "verdict": None,
            "error": "APIConnectionError: Connection error.", "usage": None}


def rows_of(samples):
    rows = bench_summarize(samples)
    for row in rows:
        check_result_row(row)
    return {row["name"]: row for row in rows}, [row["name"] for row in rows]


MIXED = [
    sample("simple_0", latency_s=1.0),
    sample("simple_1", False, "wrong_value", latency_s=2.0),
    sample("simple_2", False, "wrong_value", latency_s=3.0),
    sample("parallel_0", latency_s=4.0),
    sample("parallel_1", False, "wrong_count", latency_s=5.0),
    sample("irrelevance_0", False, "unexpected_call", latency_s=6.0),
    sample("irrelevance_1", latency_s=7.0),
]


def test_accuracy_per_category_and_overall_over_cases():
    rows, names = rows_of(MIXED)
    assert names[:4] == ["accuracy_overall", "accuracy_simple", "accuracy_parallel", "accuracy_irrelevance"]
    assert rows["accuracy_overall"]["value"] == pytest.approx(3 / 7)
    assert rows["accuracy_simple"]["value"] == pytest.approx(1 / 3)
    assert rows["accuracy_parallel"]["value"] == 0.5
    assert rows["accuracy_irrelevance"]["value"] == 0.5
    assert {rows[name]["unit"] for name in names[:4]} == {"ratio"}
    assert rows["accuracy_simple"]["tags"].items() >= {"category": "simple", "judged": "3", "passed": "1"}.items()
    assert rows["accuracy_overall"]["tags"]["judged"] == "7"


def test_every_failure_kind_is_counted_zeros_included():
    rows, _ = rows_of(MIXED)
    counts = {kind: rows[f"failures_{kind}"]["value"] for kind in FAILURE_KINDS}
    assert counts == {**dict.fromkeys(FAILURE_KINDS, 0), "wrong_value": 2, "wrong_count": 1, "unexpected_call": 1}
    assert {rows[f"failures_{kind}"]["unit"] for kind in FAILURE_KINDS} == {"count"}
    assert rows["errors"]["value"] == 0


def test_an_unknown_failure_kind_is_refused():
    with pytest.raises(ValueError, match="unknown failure kinds"):
        bench_summarize([sample("simple_0", False, "made_up")])


def test_latency_p50_and_p95_in_seconds():
    rows, _ = rows_of(MIXED)
    assert rows["latency_p50"]["value"] == 4.0
    assert rows["latency_p95"]["value"] == pytest.approx(6.7)  # linear between the 6th and 7th of 7
    p95 = rows["latency_p95"]
    assert p95["unit"] == "seconds" and p95["duration_seconds"] == p95["value"]
    assert rows["latency_p50"]["tags"].items() >= {"min": "1", "max": "7", "requests": "7"}.items()


def test_decode_rate_is_reported_tokens_over_the_latency_of_the_cases_that_report_them():
    samples = [sample("simple_0", latency_s=1.0, completion_tokens=30),
               sample("simple_1", False, "no_call", latency_s=3.0, completion_tokens=90),
               sample("simple_2", latency_s=100.0)]  # no usage: left out of the rate
    rows, _ = rows_of(samples)
    decode = rows["decode"]
    assert decode["value"] == decode["decode_tokens_per_second"] == 30.0
    assert decode["unit"] == "tok/s" and decode["duration_seconds"] == 4.0
    assert decode["tags"]["requests_with_usage"] == "2" and decode["tags"]["completion_tokens"] == "120"
    assert "includes prefill" in decode["tags"]["method"]


def test_without_usage_there_is_no_decode_row():
    rows, _ = rows_of(MIXED)
    assert "decode" not in rows


def test_harness_errors_are_counted_and_left_out_of_accuracy_and_latency():
    samples = [sample("simple_0", latency_s=2.0), sample("simple_1", False, "wrong_type", latency_s=4.0),
               harness_error("simple_2"), harness_error("parallel_0")]
    rows, _ = rows_of(samples)
    assert rows["errors"]["value"] == 2 and rows["errors"]["unit"] == "count"
    assert rows["accuracy_overall"]["value"] == 0.5
    assert "accuracy_parallel" not in rows  # its only case errored: nothing was measured
    assert rows["latency_p50"]["value"] == 3.0
    assert sum(rows[f"failures_{kind}"]["value"] for kind in FAILURE_KINDS) == 1
    assert rows["errors"]["tags"].items() >= {"cases": "4", "scored": "2", "errors": "2"}.items()


def test_when_every_request_errored_only_counts_remain():
    rows, names = rows_of([harness_error("simple_0"), harness_error("simple_1")])
    assert names == [*(f"failures_{kind}" for kind in FAILURE_KINDS), "errors"]
    assert rows["errors"]["value"] == 2


def test_tags_name_the_case_source():
    rows, _ = rows_of(MIXED)
    assert rows["accuracy_overall"]["tags"]["source"] == "shipped"
    assert "answers" not in rows["accuracy_overall"]["tags"]
    files = {"questions": "BFCL_v4_simple_python.json", "answers": "BFCL_v4_simple_python.json"}
    rows, _ = rows_of([sample("simple_python_0", source=files)])
    assert rows["accuracy_overall"]["tags"].items() >= {"source": "BFCL_v4_simple_python.json",
                                                        "answers": "BFCL_v4_simple_python.json"}.items()
    rows, _ = rows_of([sample("irrelevance_0", source={"questions": "BFCL_v4_irrelevance.json", "answers": None})])
    assert rows["failures_no_call"]["tags"].items() >= {"source": "BFCL_v4_irrelevance.json", "answers": "none"}.items()
