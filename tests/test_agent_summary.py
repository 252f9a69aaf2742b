"""The framework-eval summary on hand-written samples: overall and per-task scores, latency,
tool calls, steps, tokens, tags, and harness errors left out."""

from __future__ import annotations

import pytest

from pytest_mlxbench.envelope import check_result_row
from pytest_mlxbench.suites.framework_eval.summary import bench_summarize


def sample(runner: str, task_id: str, score: float | None, *, kind: str | None = None, latency_s: float = 1.0,
           tool_calls: int = 1, steps: int = 2, prompt_tokens: int | None = 100,
           completion_tokens: int | None = 20, harness_error: str | None = None, version: str = "1.2.3") -> dict:
    call = {"name": "get_order_status", "arguments": {"order_id": "ORD-1"}, "result": '{"status": "HELD-X"}'}
    return {
        "runner": runner, "framework_version": version, "task_id": task_id, "seed": 7, "max_steps": 6,
        "temperature": 0.0, "max_tokens": 64, "score": score, "kind": kind, "reason": "...",
        "harness_error": harness_error,
        "transcript": {
            "runner": runner, "task_id": task_id, "final_answer": "The status is HELD-X.",
            "tool_calls": [call] * tool_calls, "messages": [{"role": "user", "content": "?"}], "steps": steps,
            "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "latency_s": latency_s,
            "error": None, "hit_step_limit": False,
        },
    }


def rows_by_key(rows: list[dict]) -> dict[tuple[str, str], dict]:
    keys = [(row["name"], row["metric"]) for row in rows]
    assert len(keys) == len(set(keys)), "a (name, metric) pair would read as repeats of one measurement"
    return dict(zip(keys, rows, strict=True))


def test_overall_score_is_the_mean_over_tasks_and_comes_first():
    samples = [
        sample("baseline", "order-status", 1.0, latency_s=2.0),
        sample("baseline", "customer-balance", 0.0, kind="missing_tool_call", latency_s=3.0),
        sample("baseline", "no-tool-arithmetic", 1.0, tool_calls=0, steps=1, latency_s=0.5),
        sample("langgraph", "order-status", 0.0, kind="step_limit"),
    ]
    rows = bench_summarize(samples)
    by_key = rows_by_key(rows)

    assert [row["name"] for row in rows[:2]] == ["baseline", "langgraph"]
    baseline = by_key[("baseline", "score")]
    assert baseline["value"] == pytest.approx(2 / 3) and baseline["unit"] == "ratio"
    assert baseline["duration_seconds"] == pytest.approx(5.5)
    assert {"tasks": "3", "passed": "2", "harness_errors": "0", "framework": "baseline"}.items() \
        <= baseline["tags"].items()
    assert by_key[("langgraph", "score")]["value"] == 0.0


def test_each_task_gets_score_latency_tool_calls_steps_and_tokens():
    rows = rows_by_key(bench_summarize([
        sample("langgraph", "customer-balance", 1.0, latency_s=4.25, tool_calls=3, steps=3,
               prompt_tokens=900, completion_tokens=40, version="1.2.24"),
    ]))

    name = "langgraph/customer-balance"
    expected = {"score": (1.0, "ratio"), "latency": (4.25, "seconds"), "tool_calls": (3, "count"),
                "steps": (3, "count"), "prompt_tokens": (900, "tokens"), "completion_tokens": (40, "tokens")}
    for metric, (value, unit) in expected.items():
        row = rows[(name, metric)]
        assert (row["value"], row["unit"]) == (value, unit), metric
        assert {"framework": "langgraph", "framework_version": "1.2.24", "task": "customer-balance",
                "seed": "7", "max_steps": "6"}.items() <= row["tags"].items()
    assert rows[(name, "latency")]["duration_seconds"] == 4.25
    assert rows[(name, "score")]["tags"]["outcome"] == "passed"


def test_a_miss_names_its_kind_and_tokens_are_left_out_when_not_reported():
    rows = rows_by_key(bench_summarize([
        sample("smolagents", "order-status", 0.0, kind="framework_error", tool_calls=0,
               prompt_tokens=None, completion_tokens=None),
    ]))

    assert rows[("smolagents/order-status", "score")]["value"] == 0.0
    assert rows[("smolagents/order-status", "score")]["tags"]["outcome"] == "framework_error"
    assert rows[("smolagents/order-status", "tool_calls")]["value"] == 0
    assert ("smolagents/order-status", "prompt_tokens") not in rows
    assert ("smolagents/order-status", "completion_tokens") not in rows


def test_a_harness_error_is_no_measurement_but_is_counted():
    samples = [
        sample("pydantic-ai", "order-status", 1.0),
        sample("pydantic-ai", "customer-balance", None, harness_error="the server does not answer chat requests"),
        sample("openai-agents", "order-status", None, harness_error="fixture data missing after the run"),
    ]
    rows = rows_by_key(bench_summarize(samples))

    overall = rows[("pydantic-ai", "score")]
    assert overall["value"] == 1.0
    assert (overall["tags"]["tasks"], overall["tags"]["harness_errors"]) == ("1", "1")
    assert not [key for key in rows if key[0].startswith("pydantic-ai/customer-balance")]
    assert not [key for key in rows if key[0].startswith("openai-agents")]


def test_no_samples_give_no_rows():
    assert bench_summarize([]) == []


def test_every_row_is_a_valid_result_row():
    samples = [sample("baseline", "order-status", 1.0), sample("langgraph", "order-status", 0.0, kind="empty_answer")]
    for row in bench_summarize(samples):
        check_result_row(row)
        assert all(isinstance(value, str) for value in row["tags"].values())
