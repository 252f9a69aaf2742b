"""The code-accuracy summary on hand-written samples: pass@k, verdict counts, latency, duration, decode."""

from __future__ import annotations

import pytest

from pytest_mlxbench.envelope import check_result_row
from pytest_mlxbench.suites.code_accuracy.summary import VERDICTS, bench_summarize

PROTECTIONS = "separate_uid+network_isolated+pid_namespace+filesystem_protected"


def sample(task_id: str, index: int, verdict: str | None, latency_s: float | None = 1.0, *,
           completion_tokens: int | None = None, problem_s: float = 2.0, samples: int = 1,
           error: str | None = None) -> dict:
    return {
        "task_id": task_id, "sample": index, "dataset": "shipped", "samples_per_problem": samples,
        "temperature": 0.8 if samples > 1 else 0.0, "isolation": "judge", "protections": PROTECTIONS,
        "protection_notes": "",
        "seed": index, "reply": "```python\n...\n```", "finish_reason": "stop", "code": "...",
        "verdict": verdict, "detail": "", "stderr_tail": "", "run_s": 0.01, "timeout_s": 4.0,
        "latency_s": latency_s, "problem_duration_s": problem_s, "error": error,
        "usage": None if completion_tokens is None else {"completion_tokens": completion_tokens},
    }


def problem(task_id: str, verdicts: list[str], problem_s: float = 2.0) -> list[dict]:
    return [sample(task_id, index, verdict, problem_s=problem_s, samples=len(verdicts))
            for index, verdict in enumerate(verdicts)]


def rows_by_name(rows: list[dict]) -> dict[str, dict]:
    return {row["name"]: row for row in rows}


def test_one_sample_per_problem_gives_pass_at_1_as_the_solved_fraction():
    samples = [sample("p/0", 0, "passed"), sample("p/1", 0, "failed"), sample("p/2", 0, "no_code")]
    rows = rows_by_name(bench_summarize(samples))

    # n = 1 per problem: pass@1 is 1, 0, 0 -> mean 1/3; no problem has 10 samples
    assert rows["pass@1"]["value"] == pytest.approx(1 / 3)
    assert rows["pass@1"]["metric"] == "pass@k" and rows["pass@1"]["unit"] == "ratio"
    assert "pass@10" not in rows and "pass@100" not in rows
    assert rows["pass@1"]["tags"]["problems_solved"] == "1"


def test_pass_at_k_uses_the_unbiased_estimator_averaged_over_problems():
    ten = ["passed"] * 3 + ["failed"] * 5 + ["timeout"] * 2           # n = 10, c = 3
    other = ["passed"] + ["error"] * 9                                 # n = 10, c = 1
    rows = rows_by_name(bench_summarize(problem("a", ten) + problem("b", other)))

    # pass@1 = c/n: a 3/10, b 1/10 -> mean 0.2
    assert rows["pass@1"]["value"] == pytest.approx(0.2)
    # pass@10 with n = 10: 1 - C(n-c, 10)/C(10, 10) = 1 as soon as c >= 1 -> mean 1
    assert rows["pass@10"]["value"] == pytest.approx(1.0)
    assert "pass@100" not in rows


def test_pass_at_k_for_k_between_1_and_n():
    # n = 12, c = 2 for one problem and n = 12, c = 0 for another.
    # pass@10 = 1 - C(10, 10)/C(12, 10) = 1 - 1/66 = 65/66 for the first, 0 for the second
    first = ["passed", "passed"] + ["failed"] * 10
    second = ["failed"] * 12
    rows = rows_by_name(bench_summarize(problem("a", first) + problem("b", second)))

    assert rows["pass@10"]["value"] == pytest.approx((65 / 66 + 0) / 2)
    # pass@1 = 2/12 and 0 -> mean 1/12
    assert rows["pass@1"]["value"] == pytest.approx(1 / 12)
    assert rows["pass@10"]["tags"]["k"] == "10" and rows["pass@10"]["tags"]["problems_with_k"] == "2"


def test_pass_at_100_appears_with_100_samples():
    # n = 100, c = 1: pass@100 = 1; pass@10 = 1 - C(99,10)/C(100,10) = 1 - 90/100 = 0.1; pass@1 = 0.01
    rows = rows_by_name(bench_summarize(problem("a", ["passed"] + ["failed"] * 99)))

    assert rows["pass@100"]["value"] == pytest.approx(1.0)
    assert rows["pass@10"]["value"] == pytest.approx(0.1)
    assert rows["pass@1"]["value"] == pytest.approx(0.01)


def test_every_verdict_is_counted_apart_zeros_included():
    samples = problem("a", ["passed", "timeout", "timeout"]) + problem("b", ["killed", "no_code", "failed", "unencodable"])
    rows = rows_by_name(bench_summarize(samples))

    counts = {kind: rows[f"verdict_{kind}"]["value"] for kind in VERDICTS}
    assert counts == {"passed": 1, "failed": 1, "error": 0, "timeout": 2, "killed": 1, "unencodable": 1, "no_code": 1}
    assert {rows[f"verdict_{kind}"]["unit"] for kind in VERDICTS} == {"count"}


def test_a_harness_error_leaves_the_problem_out_of_every_score_and_is_counted():
    samples = [
        sample("ok", 0, "passed", 2.0, completion_tokens=40),
        sample("broken", 0, None, 9.0, completion_tokens=999, error="not run: request of sample 1 failed"),
        sample("broken", 1, None, None, error="request of sample 1 failed: APIConnectionError"),
        sample("bad-data", None, None, None, error="the canonical solution does not pass"),
    ]
    rows = rows_by_name(bench_summarize(samples))

    assert rows["harness_errors"]["value"] == 2
    assert rows["pass@1"]["value"] == 1.0 and rows["pass@1"]["tags"]["scored_problems"] == "1"
    assert sum(rows[f"verdict_{kind}"]["value"] for kind in VERDICTS) == 1
    assert rows["latency_p50"]["value"] == 2.0   # the errored problem's 9 s request is left out
    assert rows["decode"]["value"] == pytest.approx(40 / 2.0)
    assert rows["pass@1"]["tags"]["problems"] == "3"


def test_no_scored_problem_gives_no_pass_at_k_but_still_counts():
    rows = rows_by_name(bench_summarize([sample("x", 0, None, None, error="request of sample 0 failed: 404")]))

    assert not [name for name in rows if name.startswith("pass@")]
    assert rows["harness_errors"]["value"] == 1
    assert all(rows[f"verdict_{kind}"]["value"] == 0 for kind in VERDICTS)
    assert "latency_p50" not in rows and "decode" not in rows


def test_latency_percentiles_and_mean():
    latencies = [1.0, 2.0, 3.0, 4.0, 10.0]
    samples = [sample(f"p/{index}", 0, "failed", latency) for index, latency in enumerate(latencies)]
    rows = rows_by_name(bench_summarize(samples))

    # sorted [1, 2, 3, 4, 10]: p50 at position 4 * 0.5 = 2 -> 3.0
    assert rows["latency_p50"]["value"] == pytest.approx(3.0)
    # p95 at position 4 * 0.95 = 3.8 -> 4 + 0.8 * (10 - 4) = 8.8
    assert rows["latency_p95"]["value"] == pytest.approx(8.8)
    # mean (1 + 2 + 3 + 4 + 10) / 5 = 4
    assert rows["latency_mean"]["value"] == pytest.approx(4.0)
    assert rows["latency_p95"]["duration_seconds"] == pytest.approx(8.8)
    assert rows["latency_p50"]["tags"]["requests"] == "5"
    # the requests themselves, for the gate to compare distributions (their spread is not run noise)
    assert rows["latency_p95"]["tags"]["request_statistic"] == "p95"
    assert rows["latency_mean"]["tags"]["request_statistic"] == "mean"
    assert [float(v) for v in rows["latency_p95"]["tags"]["request_samples"].split(",")] == latencies


def test_total_duration_counts_each_problem_once():
    samples = problem("a", ["passed", "failed", "failed"], problem_s=5.0) + problem("b", ["failed"] * 3, problem_s=1.5)
    rows = rows_by_name(bench_summarize(samples))

    # 5.0 (problem a, carried by its three samples) + 1.5 (problem b)
    assert rows["total_duration"]["value"] == pytest.approx(6.5)
    assert rows["total_duration"]["duration_seconds"] == pytest.approx(6.5)
    assert rows["pass@1"]["duration_seconds"] == pytest.approx(6.5)


def test_decode_rate_uses_only_requests_that_report_usage():
    samples = [sample("a", 0, "passed", 2.0, completion_tokens=100), sample("b", 0, "failed", 3.0,
                                                                            completion_tokens=50),
               sample("c", 0, "failed", 100.0)]
    rows = rows_by_name(bench_summarize(samples))

    # (100 + 50) tokens / (2 + 3) seconds = 30 tok/s; "c" reported no usage
    assert rows["decode"]["value"] == pytest.approx(30.0)
    assert rows["decode"]["decode_tokens_per_second"] == pytest.approx(30.0)
    assert rows["decode"]["tags"]["requests_with_usage"] == "2"


def test_no_usage_means_no_decode_row():
    assert "decode" not in rows_by_name(bench_summarize([sample("a", 0, "passed")]))


def test_rows_are_valid_tagged_and_ordered_headline_first():
    rows = bench_summarize(problem("a", ["passed", "failed", "no_code"]) + problem("b", ["timeout"] * 3))
    for row in rows:
        check_result_row(row)
    names = [row["name"] for row in rows]
    assert names[:2] == ["pass@1", "verdict_passed"]
    tags = rows[0]["tags"]
    assert {"dataset": "shipped", "samples_per_problem": "3", "temperature": "0.8", "isolation": "judge",
            "protections": PROTECTIONS, "problems": "2"}.items() <= tags.items()
    assert "protection_notes" not in tags


def test_degraded_protections_and_their_notes_become_tags():
    degraded = {**sample("a", 0, "passed"), "protections": "none", "protection_notes": "no user namespaces"}
    rows = rows_by_name(bench_summarize([degraded]))
    assert rows["pass@1"]["tags"]["protections"] == "none"
    assert rows["pass@1"]["tags"]["protection_notes"] == "no user namespaces"


def test_verdicts_reached_in_process_are_counted_and_tagged():
    in_process = {**sample("b", 0, "failed"), "isolation": "in_process"}
    rows = rows_by_name(bench_summarize([sample("a", 0, "passed"), in_process]))
    assert rows["verdicts_in_process"]["value"] == 1
    assert rows["pass@1"]["tags"]["isolation"] == "judge,in_process"


def test_an_unknown_verdict_is_refused():
    with pytest.raises(ValueError, match="unknown verdicts"):
        bench_summarize([sample("a", 0, "maybe")])


def test_a_problem_without_a_recorded_duration_leaves_the_total_out_and_says_why():
    untimed = {**sample("p/2", 0, "failed"), "problem_duration_s": None}
    rows = rows_by_name(bench_summarize([sample("p/1", 0, "passed", problem_s=3.0), untimed]))

    assert "total_duration" not in rows  # never a sum that counts the unknown problem as 0.0 s
    assert "duration_seconds" not in rows["pass@1"]
    assert rows["pass@1"]["tags"]["duration_missing"] == \
        "1 of 2 problems recorded no duration (p/2): the total time is unknown"
    assert rows["pass@1"]["value"] == pytest.approx(0.5)
    check_result_row(rows["pass@1"])
