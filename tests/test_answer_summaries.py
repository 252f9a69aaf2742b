"""Rows of the reasoning, math-hard and knowledge suites from hand-made samples (pure)."""

from __future__ import annotations

import pytest

from pytest_mlxbench.suites.knowledge.summary import bench_summarize as knowledge_rows
from pytest_mlxbench.suites.math_hard.summary import bench_summarize as math_rows
from pytest_mlxbench.suites.reasoning.summary import bench_summarize as reasoning_rows


def sample(passed, kind=None, latency=1.0, tokens=10, **fields):
    verdict = None if passed is None else {"passed": passed, "kind": kind, "detail": "", **fields.pop("verdict", {})}
    return {"source": "shipped", "verdict": verdict, "latency_s": latency if verdict else None,
            "usage": {"completion_tokens": tokens} if verdict else None, **fields}


def by_name(rows):
    return {row["name"]: row for row in rows}


def test_reasoning_rows_report_both_filters_and_leave_harness_errors_out():
    samples = [
        sample(True, verdict={"correct": {"strict-match": True, "flexible-extract": True}}),
        sample(False, "no_answer", verdict={"correct": {"strict-match": False, "flexible-extract": True}}),
        sample(False, "truncated", latency=3.0, verdict={"correct": {"strict-match": False, "flexible-extract": False}}),
        sample(None, error="RequestFailed"),
    ]
    rows = by_name(reasoning_rows(samples))
    assert rows["exact_match_strict-match"]["value"] == pytest.approx(1 / 3)
    assert rows["exact_match_flexible-extract"]["value"] == pytest.approx(2 / 3)
    assert rows["exact_match_strict-match"]["duration_seconds"] == 5.0
    assert [rows[f"failures_{k}"]["value"] for k in ("no_answer", "wrong_value", "truncated")] == [1, 0, 1]
    assert rows["errors"]["value"] == 1 and rows["errors"]["tags"] == {"source": "shipped", "cases": "4",
                                                                         "scored": "3", "errors": "1"}
    assert rows["decode"]["decode_tokens_per_second"] == pytest.approx(30 / 5)


def test_math_rows_per_subject_and_level_only_when_several():
    samples = [sample(True, subject="Algebra", level=5, verdict={"minerva_match": True}),
               sample(False, "checker_timeout", subject="Counting & Probability", level=5,
                      verdict={"minerva_match": False})]
    rows = by_name(math_rows(samples))
    assert rows["accuracy_math_verify"]["value"] == 0.5 and rows["exact_match_minerva"]["value"] == 0.5
    assert rows["accuracy_counting_probability"]["tags"]["subject"] == "Counting & Probability"
    assert not any(name.startswith("accuracy_level_") for name in rows)  # one level
    assert rows["failures_checker_timeout"]["value"] == 1 and rows["accuracy_math_verify"]["tags"]["levels"] == "5"


def test_knowledge_rows_count_methods_and_unanswered():
    samples = [sample(True, subject="anatomy", verdict={"method": "answer_line"}),
               sample(False, "no_answer", subject="anatomy", verdict={"method": None}),
               sample(False, "wrong_choice", subject="virology", verdict={"method": "option_text"})]
    rows = by_name(knowledge_rows(samples))
    assert rows["accuracy_overall"]["value"] == pytest.approx(1 / 3)
    assert rows["accuracy_overall"]["tags"]["by_answer_line"] == "1" and rows["accuracy_overall"]["tags"]["by_option_text"] == "1"
    assert rows["accuracy_anatomy"]["value"] == 0.5 and rows["accuracy_virology"]["value"] == 0.0
    assert rows["unanswered"]["value"] == pytest.approx(1 / 3)


def test_only_harness_errors_give_no_accuracy_rows_and_unknown_kinds_are_refused():
    rows = by_name(knowledge_rows([sample(None, error="RequestFailed")]))
    assert "accuracy_overall" not in rows and rows["errors"]["value"] == 1
    with pytest.raises(ValueError, match="unknown failure kinds"):
        knowledge_rows([sample(False, "made_up", verdict={"method": None})])
