"""The comparison's rows from model runs (pure): what differs is said, what cannot be tested is
not, and a difference whose interval holds 0 is never a win."""

from __future__ import annotations

from support.comparison_data import CASES, cases, envelope, model_run, throughput_rows

from pytest_mlxbench.suites.comparison.compare import compare_runs
from pytest_mlxbench.suites.comparison.runs import ModelRun, SuiteRun


def by_name(rows: list[dict]) -> dict[str, dict]:
    return {row["name"]: row for row in rows}


def test_what_differs_between_two_runs_is_said_and_tagged():
    reference = model_run("q8", 1.0)
    moved = envelope("tool-calling", "q4", [], git_sha="fedcba98", gen_kwargs={"max_gen_toks": 64, "temperature": 0.7},
                     system={"os": "macOS 14.6", "chip": "Apple M2", "memory_gb": 16})
    fewer = dict(list(cases("q4").items())[:30])
    other = ModelRun("q4", "q4", "/runs/old", {"tool-calling": SuiteRun(moved, fewer)})
    result = compare_runs([reference, other])
    pair = by_name(result.rows)["tool-calling:pass_rate[q4 vs q8]"]
    assert pair["tags"]["differs"] == "gen_kwargs,git_sha,system,cases"
    assert pair["tags"]["n"] == "30"  # paired on the shared cases only
    notes = "\n".join(result.notes)
    assert "generation settings differ: q8 {'max_gen_toks': 512, 'temperature': 0.0}, q4 {'max_gen_toks': 64" in notes
    assert "suite code at different commits (0123abcd vs fedcba98): prompts and data may differ" in notes
    assert "measured on different machines (Apple M4 Max, 128 GB, macOS 15.3 vs Apple M2, 16 GB, macOS 14.6)" in notes
    assert "different cases: q8 60, q4 30; paired tests use the 30 shared" in notes
    assert "throughput: q4 has no throughput numbers, so q4 is not compared with q8 on it" in notes


def test_a_gap_within_noise_is_no_detectable_difference_and_too_few_repeats_cannot_tell():
    reference = model_run("q8", 1.0)
    close = {case: dict(outcome) for case, outcome in cases("q8").items()}
    close[CASES[0]] = {"outcome": "wrong", "kind": "no_call"}  # one case apart
    three = envelope("throughput", "q4", throughput_rows(1.5, seed=9, count=3))
    other = ModelRun("q4", "q4", "this run", {"tool-calling": SuiteRun(reference.suites["tool-calling"].envelope, close),
                                              "throughput": SuiteRun(three)})
    rows = by_name(compare_runs([reference, other]).rows)
    accuracy = rows["tool-calling:pass_rate[q4 vs q8]"]["tags"]
    assert accuracy["verdict"] == "no detectable difference at 60 cases" and float(accuracy["ci_low"]) < 0
    decode = rows["throughput:decode_128[q4 vs q8]"]
    assert decode["value"] > 0 and decode["tags"]["verdict"] == "too few repeats (3) to tell"
    assert "ci_low" not in decode["tags"] and "p_value" not in decode["tags"]
    assert rows["throughput:decode_128[q4]"]["tags"]["interval"] == "none: fewer than 10 repeats"


def test_an_earlier_run_without_per_case_outcomes_is_shown_not_tested():
    reference = model_run("q8", 1.0)
    old = ModelRun("q4 @ then", "q4", "/runs/old", {"tool-calling": SuiteRun(reference.suites["tool-calling"].envelope)})
    result = compare_runs([reference, old])
    rows = by_name(result.rows)
    assert rows["tool-calling:accuracy_overall[q4 @ then]"]["tags"]["note"].startswith("no per-case outcomes")
    assert "tool-calling: pass_rate was measured for q8 only; not compared" in result.notes
