"""Thresholds and baselines: verdicts, direction, noise, matching, and baselines on disk (rules files: test_gate_rules.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.gate import assert_one_line, write_rules

from pytest_mlxbench import gate, storage
from pytest_mlxbench.errors import BenchInputError
from pytest_mlxbench.gate import stats

MODEL = "tiny-llama-h64"


def decode_row(prompt_tokens: int, tok_s: float, spread: float | None = None) -> dict:
    """A throughput row; ``spread`` adds the min/max tags of 3 repeats within +-spread."""
    tags = {"prompt_tokens": str(prompt_tokens), "max_tokens": "64"}
    if spread is not None:
        tags |= {"repeats": "3", "min": str(tok_s * (1 - spread)), "max": str(tok_s * (1 + spread))}
    return {
        "name": f"decode_{prompt_tokens}",
        "metric": "throughput",
        "value": tok_s,
        "unit": "tok/s",
        "decode_tokens_per_second": tok_s,
        "prompt_tokens_per_second": tok_s * 6,
        "peak_rss_mb": 310.0,
        "tags": tags,
    }


def ttft_row(percentile: str, ms: float) -> dict:
    return {"name": percentile, "metric": "ttft", "value": ms, "unit": "ms", "first_token_latency_ms": ms}


def accuracy_row(category: str, ratio: float) -> dict:
    return {"name": category, "metric": "accuracy", "value": ratio, "unit": "ratio", "tags": {"n": "50"}}


@pytest.fixture
def run(envelope):
    """A realistic run of three suites; ``scale`` multiplies throughput, ``ttft_scale`` the latencies."""

    def build(scale: float = 1.0, ttft_scale: float = 1.0, spread: float | None = 0.03) -> list[dict]:
        return [
            envelope("throughput", [decode_row(p, 80.0 / (1 + p / 2048) * scale, spread) for p in (128, 512, 2048)]),
            envelope("ttft", [ttft_row(p, ms * ttft_scale) for p, ms in (("p50", 41.0), ("p90", 55.0), ("p99", 70.0))]),
            envelope("tool-calling", [accuracy_row("simple", 0.92), accuracy_row("parallel", 0.75)]),
        ]

    return build


STANDARD_RULES = """
[[rule]]
suite = "throughput"
field = "decode_tokens_per_second"
min = 10
max_drop_pct = 10

[[rule]]
suite = "ttft"
name = "p*"
max_rise_pct = 15

[[rule]]
suite = "tool-calling"
metric = "accuracy"
min = 0.5
max_drop_pct = 5

[[rule]]
suite = "throughput"
field = "peak_rss_mb"
max = 2048
max_rise_pct = 25
"""


# ---------------------------------------------------------------- the contract


def test_numeric_fields_are_those_of_the_contract():
    assert set(gate.numeric_fields()) == {
        "value", "duration_seconds", "prompt_tokens_per_second", "decode_tokens_per_second",
        "total_tokens_per_second", "first_token_latency_ms", "peak_rss_mb",
    }  # fmt: skip


# ---------------------------------------------------------------- verdicts


def test_a_run_is_its_own_passing_baseline(tmp_path, run):
    rules = gate.load_rules(write_rules(tmp_path, STANDARD_RULES))
    current = run()
    outcomes = gate.evaluate(rules, current, current)
    assert len(outcomes) == 3 + 3 + 2 + 3
    assert all(outcome.status == "passed" for outcome in outcomes), [o.message for o in outcomes]
    assert all(outcome.change_pct == 0 for outcome in outcomes)


def test_a_twenty_percent_slowdown_fails_with_a_message_that_explains_it(tmp_path, run):
    rules = gate.load_rules(write_rules(tmp_path, STANDARD_RULES))
    outcomes = gate.evaluate(rules, run(scale=0.8), run())
    failed = {outcome.id: outcome for outcome in outcomes if outcome.status == "failed"}
    assert set(failed) == {
        "throughput::decode_128::decode_tokens_per_second::rule0",
        "throughput::decode_512::decode_tokens_per_second::rule0",
        "throughput::decode_2048::decode_tokens_per_second::rule0",
    }
    outcome = failed["throughput::decode_512::decode_tokens_per_second::rule0"]
    assert (outcome.baseline, outcome.current) == (pytest.approx(64.0), pytest.approx(51.2))
    assert outcome.change_pct == pytest.approx(-20.0)
    assert outcome.allowed_low == pytest.approx(57.6)
    for fragment in ("throughput/decode_512", "decode_tokens_per_second", "baseline 64", "current 51.2",
                     "-20.0%", "drop <= 10%", "beyond run noise"):  # fmt: skip
        assert fragment in outcome.message, outcome.message


def test_a_latency_rise_fails_and_a_latency_fall_passes(tmp_path, run):
    rules = gate.load_rules(write_rules(tmp_path, STANDARD_RULES))
    slower = gate.evaluate(rules, run(ttft_scale=1.3), run())
    faster = gate.evaluate(rules, run(ttft_scale=0.5), run())
    assert {o.name for o in slower if o.status == "failed"} == {"p50", "p90", "p99"}
    assert all(o.status == "passed" for o in faster)


@pytest.mark.parametrize(
    ("field", "metric", "unit", "higher_is_better"),
    [
        ("value", "throughput", "tok/s", True),
        ("decode_tokens_per_second", "latency", "ms", True),  # the field, not the row's unit, decides
        ("prompt_tokens_per_second", "x", "y", True),
        ("value", "accuracy", "ratio", True),
        ("value", "pass@1", "ratio", True),
        ("value", "pass@k", "count", True),
        ("value", "score", "points", True),
        ("value", "exact_match_flexible", "ratio", True),
        ("value", "ttft", "ms", False),
        ("value", "latency", "seconds", False),
        ("first_token_latency_ms", "throughput", "tok/s", False),
        ("duration_seconds", "accuracy", "ratio", False),
        ("peak_rss_mb", "x", "y", False),
        ("value", "memory", "GB", False),
        ("value", "rss", "MB", False),
        ("value", "duration", "s", False),
        ("value", "items", "count", None),  # nothing to go by
        ("value", "throughput", "seconds", None),  # metric and unit contradict each other
    ],
)
def test_direction_is_inferred_from_field_metric_and_unit(field, metric, unit, higher_is_better):
    assert gate.infer_higher_is_better(field, metric, unit) is higher_is_better


def test_relative_rule_on_a_metric_of_unknown_direction_is_a_rule_error(tmp_path, envelope):
    runs = [envelope("framework-eval", [{"name": "langgraph", "metric": "steps", "value": 7.0, "unit": "count"}])]
    path = write_rules(tmp_path, '[[rule]]\nsuite = "framework-eval"\nmax_drop_pct = 10\n')
    with pytest.raises(BenchInputError) as error:
        gate.evaluate(gate.load_rules(path), runs, runs)
    assert_one_line(error, str(path), "rule 0 (framework-eval/*)", "higher_is_better", "'steps'", "'count'")


def test_higher_is_better_overrides_the_inferred_direction(tmp_path, envelope):
    row = {"name": "langgraph", "metric": "steps", "value": 7.0, "unit": "count"}
    baseline = [envelope("framework-eval", [row])]
    current = [envelope("framework-eval", [row | {"value": 9.0}])]
    path = write_rules(tmp_path, '[[rule]]\nsuite = "framework-eval"\nmax_rise_pct = 10\nhigher_is_better = false\n')
    [outcome] = gate.evaluate(gate.load_rules(path), current, baseline)
    assert outcome.status == "failed"
    assert "rise <= 10%" in outcome.message


@pytest.mark.parametrize(
    ("rule", "hint"),
    [
        ('suite = "ttft"\nmax_drop_pct = 10', "use max_rise_pct"),
        ('suite = "throughput"\nfield = "decode_tokens_per_second"\nmax_rise_pct = 10', "use max_drop_pct"),
    ],
)
def test_relative_bound_pointing_at_an_improvement_is_a_rule_error(tmp_path, run, rule, hint):
    path = write_rules(tmp_path, f"[[rule]]\n{rule}\n")
    with pytest.raises(BenchInputError) as error:
        gate.evaluate(gate.load_rules(path), run(), run())
    assert_one_line(error, str(path), "rule 0", hint, "improvement")


def test_absolute_bounds_need_no_baseline(tmp_path, run):
    path = write_rules(
        tmp_path,
        '[[rule]]\nsuite = "throughput"\nname = "decode_128"\nfield = "decode_tokens_per_second"\nmin = 100\n'
        '[[rule]]\nsuite = "ttft"\nname = "p99"\nmax = 60\n'
        '[[rule]]\nsuite = "ttft"\nname = "p50"\nmin = 1\nmax = 60\n',
    )
    outcomes = gate.evaluate(gate.load_rules(path), run(), None)
    assert [(o.name, o.status) for o in outcomes] == [("decode_128", "failed"), ("p99", "failed"), ("p50", "passed")]
    assert "below min 100" in outcomes[0].message
    assert "current 70 is above max 60" in outcomes[1].message
    assert outcomes[2].baseline is None and outcomes[2].change_pct is None


# ---------------------------------------------------------------- noise


def test_change_past_the_limit_inside_overlapping_noise_passes(tmp_path, run):
    """-12% against a 10% limit, but each run's repeats spread +-10%: the ranges overlap."""
    rules = gate.load_rules(write_rules(tmp_path, STANDARD_RULES))
    outcomes = gate.evaluate(rules[:1], run(scale=0.88, spread=0.10), run(spread=0.10))
    assert all(o.status == "passed" for o in outcomes)
    assert all("within run noise" in o.message and "-12.0%" in o.message for o in outcomes)


def test_twenty_percent_drop_with_three_percent_noise_fails(tmp_path, run):
    rules = gate.load_rules(write_rules(tmp_path, STANDARD_RULES))
    outcomes = gate.evaluate(rules[:1], run(scale=0.8, spread=0.03), run(spread=0.03))
    assert all(o.status == "failed" for o in outcomes)
    # decode_128: 75.29 tok/s before, 60.24 after, each +-3%
    assert "beyond run noise (current 58.4282..62.0424, baseline 73.0353..77.5529)" in outcomes[0].message


def test_samples_decide_through_the_rank_test(tmp_path, envelope):
    """Ranges overlap through one outlier, yet 8 repeats each are clearly apart: the U test fails it."""
    rules = gate.load_rules(write_rules(tmp_path, '[[rule]]\nsuite = "throughput"\nmax_drop_pct = 10\n'))
    key = ("throughput", MODEL, "decode_512", "throughput", "value")
    before = [100.0, 101.0, 99.0, 102.0, 98.0, 100.5, 99.5, 70.0]
    after = [85.0, 84.0, 86.0, 83.0, 85.5, 84.5, 99.9, 85.0]
    baseline = [envelope("throughput", [decode_row(512, 100.0)])]
    current = [envelope("throughput", [decode_row(512, 85.0)])]
    [regressed] = gate.evaluate(rules, current, baseline, current_samples={key: after}, baseline_samples={key: before})
    [same] = gate.evaluate(rules, baseline, baseline, current_samples={key: before}, baseline_samples={key: before})
    assert regressed.current_range == (83.0, 99.9) and regressed.baseline_range == (70.0, 102.0)
    assert regressed.status == "failed"
    assert same.status == "passed"


def test_repeated_rows_are_the_repeats_of_one_result(tmp_path, envelope):
    rules = gate.load_rules(write_rules(tmp_path, '[[rule]]\nsuite = "throughput"\nmax_drop_pct = 10\n'))
    baseline = [envelope("throughput", [decode_row(512, v) for v in (100.0, 96.0, 104.0)])]
    noisy = [envelope("throughput", [decode_row(512, v) for v in (87.0, 80.0, 97.0)])]
    [outcome] = gate.evaluate(rules, noisy, baseline)
    assert (outcome.current, outcome.baseline) == (87.0, 100.0)  # medians
    assert outcome.status == "passed" and "within run noise" in outcome.message


def test_exact_mann_whitney_p_values():
    assert stats.mann_whitney_p_worse([1, 2, 3], [4, 5, 6], True) == pytest.approx(1 / 20)
    assert stats.mann_whitney_p_worse([1, 2, 3, 4], [5, 6, 7, 8], True) == pytest.approx(1 / 70)
    assert stats.mann_whitney_p_worse([5, 6, 7, 8], [1, 2, 3, 4], False) == pytest.approx(1 / 70)
    assert stats.mann_whitney_p_worse([4, 5, 6], [1, 2, 3], True) == 1.0


# ---------------------------------------------------------------- matching


def test_rule_matching_no_measured_result_is_an_error(tmp_path, run):
    path = write_rules(tmp_path, '[[rule]]\nsuite = "throughput"\nname = "decode_4096"\nmin = 1\n')
    with pytest.raises(BenchInputError) as error:
        gate.evaluate(gate.load_rules(path), run(), None)
    assert_one_line(
        error, str(path), "rule 0 (throughput/decode_4096)", "matches no measured result", "decode_512/throughput"
    )


def test_rule_for_a_suite_that_did_not_run_is_an_error(tmp_path, run):
    path = write_rules(tmp_path, '[[rule]]\nsuite = "evalplus"\nmin = 0.5\n')
    with pytest.raises(BenchInputError) as error:
        gate.evaluate(gate.load_rules(path), run(), None)
    assert_one_line(error, str(path), "rule 0 (evalplus/*)", "'evalplus' has no results in this run")


def test_rule_field_absent_from_the_rows_matches_nothing(tmp_path, run):
    path = write_rules(tmp_path, '[[rule]]\nsuite = "ttft"\nfield = "decode_tokens_per_second"\nmin = 1\n')
    with pytest.raises(BenchInputError) as error:
        gate.evaluate(gate.load_rules(path), run(), None)
    assert_one_line(error, "matches no measured result", "field='decode_tokens_per_second'")


def test_rule_for_a_skipped_suite_gives_a_skipped_outcome(tmp_path, envelope):
    skipped = [envelope("ttft", [], skipped=True)]
    [outcome] = gate.evaluate(gate.load_rules(write_rules(tmp_path, '[[rule]]\nsuite = "ttft"\nmax = 90\n')), skipped)
    assert outcome.status == "skipped" and not outcome.passed
    assert "skipped in this run" in outcome.message


def test_relative_rule_without_any_baseline_is_an_error(tmp_path, run):
    path = write_rules(tmp_path, STANDARD_RULES)
    with pytest.raises(BenchInputError) as error:
        gate.evaluate(gate.load_rules(path), run(), None)
    assert_one_line(error, str(path), "rule 0 (throughput/*)", "no baseline given")


def test_a_run_of_another_model_is_no_baseline(tmp_path, run):
    other_model = [env | {"model": "Qwen3-0.6B-4bit"} for env in run()]
    path = write_rules(tmp_path, STANDARD_RULES)
    with pytest.raises(BenchInputError) as error:
        gate.evaluate(gate.load_rules(path), run(), other_model)
    assert_one_line(error, f"no baseline for suite 'throughput' with model '{MODEL}'", "only for Qwen3-0.6B-4bit")


def test_new_result_missing_from_the_baseline_is_skipped_by_a_relative_rule(tmp_path, run, envelope):
    baseline = run()
    baseline[0] = envelope("throughput", baseline[0]["results"][:2])  # no decode_2048 yet
    rules = gate.load_rules(write_rules(tmp_path, '[[rule]]\nsuite = "throughput"\nmax_drop_pct = 10\n'))
    outcomes = {o.name: o for o in gate.evaluate(rules, run(), baseline)}
    assert outcomes["decode_2048"].status == "skipped"
    assert "no baseline row" in outcomes["decode_2048"].message
    assert outcomes["decode_512"].status == "passed"


def test_ids_are_stable_and_lengthen_only_to_stay_unique(tmp_path, envelope):
    rows = [
        {"name": "humaneval", "metric": "pass@1", "value": 0.6, "unit": "ratio"},
        {"name": "humaneval", "metric": "pass@10", "value": 0.8, "unit": "ratio"},
        {"name": "mbpp", "metric": "pass@1", "value": 0.5, "unit": "ratio"},
    ]
    current = [envelope("code-accuracy", rows), envelope("code-accuracy", rows, model="other-model")]
    rules = gate.load_rules(write_rules(tmp_path, '[[rule]]\nsuite = "code-accuracy"\nmin = 0.1\n'))
    ids = [o.id for o in gate.evaluate(rules, current)]
    assert ids == [
        "code-accuracy::other-model::humaneval::pass@1::value::rule0",
        "code-accuracy::other-model::humaneval::pass@10::value::rule0",
        "code-accuracy::other-model::mbpp::pass@1::value::rule0",
        f"code-accuracy::{MODEL}::humaneval::pass@1::value::rule0",
        f"code-accuracy::{MODEL}::humaneval::pass@10::value::rule0",
        f"code-accuracy::{MODEL}::mbpp::pass@1::value::rule0",
    ]
    single_model = [o.id for o in gate.evaluate(rules, current[:1])]
    assert single_model == [
        "code-accuracy::humaneval::pass@1::value::rule0",
        "code-accuracy::humaneval::pass@10::value::rule0",
        "code-accuracy::mbpp::value::rule0",
    ]


def test_model_glob_selects_models(tmp_path, run):
    path = write_rules(tmp_path, '[[rule]]\nsuite = "ttft"\nmodel = "tiny-*"\nmax = 1000\n')
    assert len(gate.evaluate(gate.load_rules(path), run())) == 3
    path = write_rules(tmp_path, '[[rule]]\nsuite = "ttft"\nmodel = "Qwen*"\nmax = 1000\n')
    with pytest.raises(BenchInputError, match="matches no measured result"):
        gate.evaluate(gate.load_rules(path), run())


# ---------------------------------------------------------------- baselines on disk


def save(directory: Path, name: str, data: dict) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def test_baseline_directory_gives_the_newest_run_per_suite_and_model(tmp_path, envelope):
    old = envelope("ttft", [ttft_row("p50", 50.0)], timestamp="2026-04-01T08:00:00Z")
    new = envelope("ttft", [ttft_row("p50", 40.0)], timestamp="2026-04-02T08:00:00+00:00")
    other_model = envelope("ttft", [ttft_row("p50", 90.0)], model="other", timestamp="2026-03-01T08:00:00Z")
    skipped_later = envelope("ttft", [], skipped=True, timestamp="2026-04-03T08:00:00Z")
    save(tmp_path, "run-b/ttft.json", old)  # file order must not matter, the timestamp does
    save(tmp_path, "run-a/ttft.json", new)
    save(tmp_path, "run-a/ttft-other.json", other_model)
    save(tmp_path, "run-c/ttft.json", skipped_later)
    (tmp_path / "run-a" / "ttft.samples.jsonl").write_text('{"not": "an envelope"}\n')
    (tmp_path / "run-a" / "ttft.invalid.json").write_text('{"kept": "because it broke the contract"}\n')
    baseline = storage.load_baseline(tmp_path)
    assert [(env["model"], env["results"][0]["value"]) for env in baseline] == [("other", 90.0), (MODEL, 40.0)]
    assert [env.get("skipped", False) for env in storage.load_envelopes(tmp_path)] == [False, True]


def test_baseline_file(tmp_path, run):
    path = save(tmp_path, "throughput.json", run()[0])
    assert storage.load_baseline(path) == [run()[0]]


def broken(**changes) -> str:
    """A valid ttft envelope as JSON text with ``changes`` applied (None deletes a key)."""
    data = {
        "schema_version": "1", "timestamp": "2026-05-01T12:00:00Z", "git_sha": "0123abc", "trigger": "local",
        "suite": "ttft", "model": MODEL, "system": {"os": "Linux", "chip": "x86_64", "memory_gb": 24},
        "results": [ttft_row("p50", 41.0)],
    }  # fmt: skip
    data.update(changes)
    return json.dumps({key: value for key, value in data.items() if value is not None})


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("{not json", "not valid JSON (Expecting property name enclosed in double quotes: line 1 column 2"),
        ("[1, 2]", "not a valid result envelope ($: not a JSON object)"),
        (broken(schema_version="2"), "($.schema_version: '1' was expected)"),
        (broken(model=None), "($: 'model' is a required property)"),
        (broken(timestamp="yesterday"), "($.timestamp: 'yesterday' is not a 'date-time')"),
        (broken(results=[{**ttft_row("p50", 1.0), "value": "fast"}]), "($.results[0].value: 'fast' is not of type"),
    ],
)
def test_unreadable_baseline_is_one_line_naming_the_file(tmp_path, content, fragment):
    path = tmp_path / "runs" / "ttft.json"
    path.parent.mkdir()
    path.write_text(content)
    for target in (path, path.parent):
        with pytest.raises(BenchInputError) as error:
            storage.load_baseline(target)
        assert_one_line(error, str(path), fragment)


def test_missing_or_empty_baseline_location(tmp_path):
    with pytest.raises(BenchInputError) as error:
        storage.load_baseline(tmp_path / "nowhere")
    assert_one_line(error, "nowhere does not exist")
    (tmp_path / "ttft.samples.jsonl").write_text("{}\n")
    with pytest.raises(BenchInputError) as error:
        storage.load_baseline(tmp_path)
    assert_one_line(error, f"no envelope (*.json) in directory {tmp_path}")


def test_baseline_from_disk_gates_a_regression(tmp_path, run):
    for env in run():
        save(tmp_path / "baseline", f"{env['suite']}.json", env)
    rules = gate.load_rules(write_rules(tmp_path, STANDARD_RULES))
    outcomes = gate.evaluate(rules, run(scale=0.8), storage.load_baseline(tmp_path / "baseline"))
    assert sum(o.status == "failed" for o in outcomes) == 3


def test_runs_on_different_topologies_are_never_compared_silently(tmp_path, run):
    """A server across ranks tags its rows with the topology (backends.watch): a baseline of
    another deployment fails the relative rule, however close the numbers."""
    rules = gate.load_rules(write_rules(tmp_path, STANDARD_RULES))
    sharded = run()
    for row in sharded[1]["results"]:
        row["tags"] = {"topology": "tensor/ring/2:mac-a.local,mac-b.local"}
    outcomes = {outcome.id: outcome for outcome in gate.evaluate(rules, sharded, run())}
    outcome = outcomes["ttft::p50::value::rule1"]
    assert outcome.status == "failed"
    assert ("the baseline ran on one process, this run on tensor/ring/2:mac-a.local,mac-b.local: runs on different "
            "deployments are not compared; record a baseline on this one") in outcome.message
    assert all(outcome.status == "passed" for outcome in gate.evaluate(rules, sharded, sharded))
