"""Envelopes of two models, as a comparison run writes them, for the report tests: "q8" (the
reference) and "q4" (faster, and wrong on more tool-calling cases), and a history of runs."""

from __future__ import annotations

import random

from pytest_mlxbench.suites.comparison.compare import compare_runs
from pytest_mlxbench.suites.comparison.runs import ModelRun, SuiteRun
from support.contract import contract_errors

SYSTEM = {"os": "macOS 15.3", "chip": "Apple M4 Max", "memory_gb": 128}
CASES = [f"test_tool_calling.py::test_tool_call[simple_{index}]" for index in range(60)]
Q4_WRONG, Q4_ONLY_RIGHT = set(range(40, 52)), {55, 56}  # q8 is wrong on 52-59


def envelope(suite: str, model: str, results: list[dict], timestamp: str = "2026-05-01T12:00:00Z",
             git_sha: str = "0123abcd", **fields) -> dict:
    data = {"schema_version": "1", "timestamp": timestamp, "git_sha": git_sha, "trigger": "local", "suite": suite,
            "model": model, "seed": 0, "gen_kwargs": {"max_gen_toks": 512, "temperature": 0.0}, "system": SYSTEM,
            "results": results, "errors": [], **fields}
    assert contract_errors(data) == []
    return data


def repeats(center: float, spread: float, count: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    return [center * (1 + rng.uniform(-spread, spread)) for _ in range(count)]


def throughput_rows(scale: float, seed: int, count: int = 10) -> list[dict]:
    rows = []
    for length, decode in ((128, 60.0), (512, 52.0), (2048, 35.0)):
        for name, metric, value in (("decode", "decode_throughput", decode), ("prefill", "prefill_throughput", decode * 8)):
            values = repeats(value * scale, 0.02, count, seed + length)
            median = sorted(values)[count // 2]
            rows.append({"name": f"{name}_{length}", "metric": metric, "value": median, "unit": "tok/s",
                         "tags": {"prompt_tokens": str(length), "samples": ",".join(map(repr, values)),
                                  "repeats": str(count), "min": repr(min(values)), "max": repr(max(values))}})
    return rows


def cases(model: str) -> dict[str, dict]:
    outcomes = {}
    for index, case in enumerate(CASES):
        right = index < 52 if model == "q8" else (index < 40 or index in Q4_ONLY_RIGHT)
        outcomes[case] = {"outcome": "passed"} if right else {"outcome": "wrong", "kind": "wrong_value"}
    return outcomes


def model_run(model: str, scale: float) -> ModelRun:
    passed = sum(data["outcome"] == "passed" for data in cases(model).values())
    accuracy = [{"name": "accuracy_overall", "metric": "accuracy", "value": passed / 60, "unit": "ratio"}]
    peak = [{"phase": "peak", "rss_gb": 4.5 / scale}]
    suites = {
        "tool-calling": SuiteRun(envelope("tool-calling", model, accuracy), cases(model)),
        "throughput": SuiteRun(envelope("throughput", model, throughput_rows(scale, seed=len(model)),
                                        memory_snapshots=peak)),
    }
    return ModelRun(model, f"mlx-community/Qwen-{model}", "this run", suites, {"server": 2.5 * scale})


def comparison_envelope() -> dict:
    """The capability-comparison envelope of q8 (reference) and q4, built by the real code."""
    comparison = compare_runs([model_run("q8", 1.0), model_run("q4", 1.4)])
    return envelope("capability-comparison", "q8 vs q4", comparison.rows, errors=comparison.notes)


def history_envelopes() -> list[dict]:
    """Throughput of q4 over five commits; the fourth run decodes 30% slower (a regression),
    the fifth recovers. Each run has its own repeats, so the gate can judge the noise."""
    runs = []
    for day, (scale, sha) in enumerate(((1.0, "aaaa111"), (1.01, "bbbb222"), (0.99, "cccc333"), (0.7, "dddd444"),
                                        (1.0, "eeee555")), start=1):
        rows = throughput_rows(scale, seed=day, count=5)
        runs.append(envelope("throughput", "q4", rows, timestamp=f"2026-05-0{day}T12:00:00Z", git_sha=sha))
    return runs
