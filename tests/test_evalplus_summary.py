"""The evalplus summary on hand-written samples: base and plus pass@k, where samples failed first,
inputs left out, harness errors."""

from __future__ import annotations

import pytest
from test_code_summary import sample

from pytest_mlxbench.envelope import check_result_row
from pytest_mlxbench.suites.evalplus.summary import bench_summarize


def evalplus_sample(task_id: str, index: int, base: bool, plus: bool, stage: str | None = None, *, samples: int = 1,
                    left_out=()) -> dict:
    verdict = "passed" if plus else "failed"
    return {**sample(task_id, index, verdict, samples=samples), "base_passed": base, "plus_passed": plus,
            "first_failure": {"stage": stage, "index": 3} if stage else None, "inputs_left_out": list(left_out)}


def test_base_and_plus_rows_come_first_in_evalplus_s_order():
    samples = [evalplus_sample("Mbpp/2", 0, True, True), evalplus_sample("Mbpp/3", 0, True, False, "plus"),
               evalplus_sample("Mbpp/4", 0, False, False, "base")]
    rows = bench_summarize(samples)
    for row in rows:
        check_result_row(row)
    assert [row["name"] for row in rows[:2]] == ["pass@1_base", "pass@1_plus"]
    by_name = {row["name"]: row for row in rows}
    assert by_name["pass@1_base"]["value"] == pytest.approx(2 / 3)
    assert by_name["pass@1_plus"]["value"] == pytest.approx(1 / 3)
    assert (by_name["first_failure_base"]["value"], by_name["first_failure_plus"]["value"]) == (1, 1)
    assert by_name["verdict_failed"]["value"] == 2 and by_name["inputs_left_out"]["value"] == 0


def test_pass_at_k_per_stage_with_several_samples():
    base = [True] * 10
    plus = [True] * 3 + [False] * 7
    samples = [evalplus_sample("Mbpp/2", i, b, p, None if p else "plus", samples=10) for i, (b, p) in
               enumerate(zip(base, plus))]
    names = [row["name"] for row in bench_summarize(samples)]
    assert names[:4] == ["pass@1_base", "pass@1_plus", "pass@10_base", "pass@10_plus"]
    rows = {row["name"]: row for row in bench_summarize(samples)}
    assert rows["pass@1_plus"]["value"] == pytest.approx(0.3) and rows["pass@10_plus"]["value"] == 1.0


def test_inputs_left_out_are_counted_once_per_task_and_harness_errors_left_out():
    left = ["plus input 85: its output is too large", "plus input 86: its output is too large"]
    samples = [evalplus_sample("Mbpp/255", 0, True, True, left_out=left),
               {**evalplus_sample("Mbpp/2", 0, False, False), "verdict": None, "error": "request failed"}]
    rows = {row["name"]: row for row in bench_summarize(samples)}
    assert rows["inputs_left_out"]["value"] == 2
    assert rows["inputs_left_out"]["tags"]["left_out"].startswith("Mbpp/255 plus input 85: its output is too large")
    assert rows["harness_errors"]["value"] == 1 and rows["pass@1_plus"]["value"] == 1.0
