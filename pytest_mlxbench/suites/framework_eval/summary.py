"""Result rows of the framework-eval suite, computed from its sample log (pure: no model, no server).

One sample per (runner, task) test, as the suite records it::

    {"runner": "langgraph", "framework_version": "1.2.24", "task_id": "order-status",
     "seed": 0, "max_steps": 6, "temperature": 0.0, "max_tokens": 512,
     "score": 1.0 | 0.0 | None, "kind": None | "step_limit" | ..., "reason": str,
     "harness_error": str | None,
     "transcript": Transcript.to_dict()}   # latency_s, steps, tool_calls, prompt/completion_tokens, ...

``score`` is None when the harness failed (server dead, fixture data missing, the baseline loop
raised): such a sample is no measurement. It is left out of every row and only counted in the
``harness_errors`` tag of its runner's overall row.

Rows, in this order (the overall scores first: they are the terminal's headline):

* ``<runner>`` (metric ``score``, unit ``ratio``): the mean score over the runner's scored tasks,
  ``duration_seconds`` the summed latency of those runs;
* per runner and task, named ``<runner>/<task>``: ``score`` (ratio, 1.0 or 0.0), ``latency``
  (seconds, also ``duration_seconds``), ``tool_calls`` (count of calls that reached our tools),
  ``steps`` (count of model requests), and ``prompt_tokens`` / ``completion_tokens`` (tokens)
  when the runner reported usage.

Every row carries the tags ``framework``, ``framework_version``, ``seed`` and ``max_steps``; task
rows add ``task``, and their score row ``outcome`` (``passed`` or the failure kind).
"""

from __future__ import annotations

from pytest_mlxbench.suites.rows import result_row

OVERALL_METRIC = "score"


def bench_summarize(samples: list[dict]) -> list[dict]:
    """The suite's rows from its samples (see the module docstring)."""
    by_runner: dict[str, list[dict]] = {}
    for sample in samples:
        by_runner.setdefault(sample["runner"], []).append(sample)
    overall = [row for runs in by_runner.values() for row in overall_rows(runs)]
    per_task = [row for runs in by_runner.values() for sample in runs if is_scored(sample)
                for row in task_rows(sample)]
    return overall + per_task


def is_scored(sample: dict) -> bool:
    return sample.get("score") is not None


def overall_rows(runs: list[dict]) -> list[dict]:
    """The runner's mean score over its scored tasks; none when no task was scored."""
    scored = [sample for sample in runs if is_scored(sample)]
    if not scored:
        return []
    mean = sum(sample["score"] for sample in scored) / len(scored)
    tags = {**runner_tags(scored[0]), "tasks": len(scored), "passed": sum(s["score"] == 1.0 for s in scored),
            "harness_errors": len(runs) - len(scored)}
    total_latency = sum(sample["transcript"]["latency_s"] for sample in scored)
    return [result_row(scored[0]["runner"], OVERALL_METRIC, mean, "ratio", tags, duration_seconds=total_latency)]


def task_rows(sample: dict) -> list[dict]:
    transcript = sample["transcript"]
    name = f"{sample['runner']}/{sample['task_id']}"
    tags = {**runner_tags(sample), "task": sample["task_id"]}
    outcome = "passed" if sample["score"] == 1.0 else sample.get("kind") or "failed"
    rows = [
        result_row(name, "score", sample["score"], "ratio", {**tags, "outcome": outcome}),
        result_row(name, "latency", transcript["latency_s"], "seconds", tags, duration_seconds=transcript["latency_s"]),
        result_row(name, "tool_calls", len(transcript["tool_calls"]), "count", tags),
        result_row(name, "steps", transcript["steps"], "count", tags),
    ]
    for field in ("prompt_tokens", "completion_tokens"):
        if transcript.get(field) is not None:
            rows.append(result_row(name, field, transcript[field], "tokens", tags))
    return rows


def runner_tags(sample: dict) -> dict:
    return {"framework": sample["runner"], "framework_version": sample.get("framework_version", "unknown"),
            "seed": sample.get("seed"), "max_steps": sample.get("max_steps")}
