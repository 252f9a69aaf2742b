"""What the gate takes for noise: repeats of a run, or the requests of a run compared as
distributions (the tail beyond a percentile for p90/p95/p99 rows), never the spread of requests
within one run; min_repeats; and the evidence with its false-alarm rate in every outcome."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from pytest_mlxbench import gate
from pytest_mlxbench.measure import percentile, request_tags, spread_tags
from pytest_mlxbench.suites.code_accuracy.summary import bench_summarize as code_summary
from pytest_mlxbench.suites.tool_calling.summary import bench_summarize as tool_summary


def rules(tmp_path: Path, text: str) -> list[gate.Rule]:
    path = tmp_path / "rules.toml"
    path.write_text(text)
    return gate.load_rules(path)


def request_latencies(seed: int, count: int, scale: float = 1.0, slow_every: int = 0) -> list[float]:
    """Request latencies of one run, lognormal around 2 s; every ``slow_every``-th one 3x slower."""
    rng = random.Random(seed)
    latencies = [rng.lognormvariate(0.7, 0.3) * scale for _ in range(count)]
    return [value * 3 if slow_every and index % slow_every == 0 else value for index, value in enumerate(latencies)]


def tool_samples(latencies: list[float]) -> list[dict]:
    return [{"id": f"simple_{index}", "category": "simple", "source": {"questions": "shipped"},
             "verdict": {"passed": True, "kind": None, "detail": ""}, "error": None, "latency_s": latency,
             "usage": None} for index, latency in enumerate(latencies)]


def code_samples(latencies: list[float]) -> list[dict]:
    return [{"task_id": f"p/{index}", "sample": 0, "dataset": "shipped", "samples_per_problem": 1,
             "temperature": 0.0, "isolation": "none", "verdict": "passed", "latency_s": latency,
             "problem_duration_s": latency + 0.1, "error": None, "usage": None}
            for index, latency in enumerate(latencies)]


LATENCY_RULE = '[[rule]]\nsuite = "{suite}"\nname = "latency_*"\nmax_rise_pct = 20\n'


@pytest.mark.parametrize(("suite", "summarize", "make_samples"), [
    ("tool-calling", tool_summary, tool_samples),
    ("code-accuracy", code_summary, code_samples),
])
def test_every_request_fifty_percent_slower_fails_every_latency_row(tmp_path, envelope, suite, summarize,
                                                                      make_samples):
    """Before, min/max of the requests passed for run noise and hid this (0 of 500 caught)."""
    baseline = [envelope(suite, summarize(make_samples(request_latencies(1, 60))))]
    same_requests = [envelope(suite, summarize(make_samples(request_latencies(1, 60)[::-1])))]  # in another order
    slower = [envelope(suite, summarize(make_samples(request_latencies(2, 60, scale=1.5))))]
    rule_list = rules(tmp_path, LATENCY_RULE.format(suite=suite))

    failed = gate.evaluate(rule_list, slower, baseline)
    assert failed and all(outcome.status == "failed" for outcome in failed), [o.message for o in failed]
    by_name = {outcome.name: outcome for outcome in failed}
    assert "60 vs 60 requests, one-sided Mann-Whitney U on the request distributions" in by_name["latency_p50"].evidence
    assert "exact tail test of p95" in by_name["latency_p95"].evidence
    assert "beyond run noise (tail p = " in by_name["latency_p95"].message
    assert all(outcome.status == "passed" for outcome in gate.evaluate(rule_list, same_requests, baseline))


def test_the_spread_of_requests_is_never_taken_for_run_noise(tmp_path, envelope):
    """Rows written before request samples existed: min/max describe requests, not repeats."""
    def row(scale):
        latencies = request_latencies(3, 60, scale)
        return {"name": "latency_p50", "metric": "latency", "value": percentile(latencies, 50), "unit": "seconds",
                "tags": {"min": str(min(latencies)), "max": str(max(latencies)), "requests": "60"}}

    [outcome] = gate.evaluate(rules(tmp_path, LATENCY_RULE.format(suite="tool-calling")),
                              [envelope("tool-calling", [row(1.5)])], [envelope("tool-calling", [row(1.0)])])
    assert outcome.status == "failed"
    assert outcome.evidence == "1 vs 1 repeat: no noise evidence, the limit alone decides"
    assert "and the noise cannot be judged (neither run has repeats to judge noise by)" in outcome.message


def ttft_rows(latencies: list[float]) -> list[dict]:
    return [{"name": f"ttft_p{q}", "metric": "ttft", "value": percentile(latencies, q), "unit": "ms",
             "first_token_latency_ms": percentile(latencies, q), "tags": request_tags(latencies, f"p{q}")}
            for q in (50, 95, 99)]


TTFT_RULE = '[[rule]]\nsuite = "ttft"\nname = "ttft_p*"\nmax_rise_pct = 15\n'


def test_one_slow_request_in_ten_fails_the_tail_rows_and_not_the_median(tmp_path, envelope):
    baseline = [envelope("ttft", ttft_rows(request_latencies(4, 100)))]
    slow_tail = [envelope("ttft", ttft_rows(request_latencies(5, 100, slow_every=10)))]
    outcomes = {o.name: o for o in gate.evaluate(rules(tmp_path, TTFT_RULE), slow_tail, baseline)}
    assert outcomes["ttft_p50"].status == "passed"
    assert outcomes["ttft_p95"].status == "failed"
    assert outcomes["ttft_p95"].evidence == (
        "100 vs 100 requests, exact tail test of p95 (current requests among the 11 worst of 200) at 4%,"
        " or the rank test of all requests at 1% (false-alarm rate 3.91%)")
    assert "10 of the 11 worst requests are the current run's" in outcomes["ttft_p95"].message
    assert outcomes["ttft_p99"].status == "failed"
    assert "too few to judge the p99 tail (about 151 per run needed)" in outcomes["ttft_p99"].evidence


def test_too_few_requests_for_a_tail_says_so_and_leaves_the_limit_to_decide(tmp_path, envelope):
    baseline = [envelope("ttft", ttft_rows(request_latencies(6, 10)))]
    outcomes = {o.name: o for o in gate.evaluate(rules(tmp_path, TTFT_RULE),
                                                 [envelope("ttft", ttft_rows(request_latencies(6, 10, 1.3)))],
                                                 baseline)}
    p99 = outcomes["ttft_p99"]
    assert p99.status == "failed"
    assert "10 vs 10 requests: too few to judge the p99 tail (about 151 per run needed)" in p99.message
    assert "the limit alone decides" in p99.message
    same = gate.evaluate(rules(tmp_path, TTFT_RULE), baseline, baseline)
    assert all(o.status == "passed" and "too few to judge" in o.evidence for o in same if o.name != "ttft_p50")


def throughput_row(samples: list[float], **tags) -> dict:
    value = sorted(samples)[len(samples) // 2]
    return {"name": "decode_128", "metric": "decode_throughput", "value": value, "unit": "tok/s",
            "tags": {**spread_tags(samples), **tags}}


DROP_RULE = '[[rule]]\nsuite = "throughput"\nmax_drop_pct = 10\n'


@pytest.mark.parametrize(("before", "after", "evidence"), [
    ([100.0, 101.0, 99.0], [80.0, 81.0, 79.0], "3 vs 3 repeats, one-sided Mann-Whitney U (false-alarm rate 5%)"),
    ([100.0, 101.0, 99.0, 98.0, 102.0], [80.0, 81.0, 79.0],
     "3 vs 5 repeats, one-sided Mann-Whitney U (false-alarm rate 3.57%)"),
    ([100.0, 101.0], [80.0, 81.0],
     "2 vs 2 repeats, ranges must not overlap (too few repeats for the rank test; false-alarm rate 16.7%)"),
    ([100.0], [80.0], "1 vs 1 repeat: no noise evidence, the limit alone decides"),
])
def test_the_outcome_names_its_evidence_and_false_alarm_rate(tmp_path, envelope, before, after, evidence):
    [outcome] = gate.evaluate(rules(tmp_path, DROP_RULE), [envelope("throughput", [throughput_row(after)])],
                              [envelope("throughput", [throughput_row(before)])])
    assert outcome.status == "failed" and outcome.evidence == evidence
    assert f"evidence: {evidence}" in outcome.message


def test_repeats_win_over_requests_when_both_runs_have_them(tmp_path, envelope):
    latencies = request_latencies(7, 30)
    row = throughput_row([100.0, 101.0, 99.0], **{key: value for key, value in request_tags(latencies, "p50").items()
                                                  if key.startswith("request_")})
    [outcome] = gate.evaluate(rules(tmp_path, DROP_RULE), [envelope("throughput", [row])],
                              [envelope("throughput", [row])])
    assert outcome.evidence.startswith("3 vs 3 repeats")


def test_min_repeats_refuses_to_judge_too_few_repeats(tmp_path, envelope):
    strict = rules(tmp_path, DROP_RULE + "min_repeats = 3\n")
    two = [envelope("throughput", [throughput_row([100.0, 101.0])])]
    [outcome] = gate.evaluate(strict, two, two)
    assert outcome.status == "failed"
    assert "not enough repeats to judge (current 2, baseline 2); the rule needs min_repeats = 3" in outcome.message
    three = [envelope("throughput", [throughput_row([100.0, 101.0, 99.0])])]
    assert gate.evaluate(strict, three, three)[0].status == "passed"
    [mixed] = gate.evaluate(strict, three, two)
    assert mixed.status == "failed" and "(current 3, baseline 2)" in mixed.message


def test_min_repeats_on_an_absolute_bound_counts_the_current_run(tmp_path, envelope):
    strict = rules(tmp_path, '[[rule]]\nsuite = "throughput"\nmin = 50\nmin_repeats = 2\n')
    [outcome] = gate.evaluate(strict, [envelope("throughput", [throughput_row([100.0])])])
    assert outcome.status == "failed" and "not enough repeats to judge (current 1)" in outcome.message
    [outcome] = gate.evaluate(strict, [envelope("throughput", [throughput_row([100.0, 99.0])])])
    assert outcome.status == "passed" and outcome.evidence == "the current value (2 repeats)"


def test_min_repeats_counts_requests_for_a_row_judged_by_its_requests(tmp_path, envelope):
    strict = rules(tmp_path, TTFT_RULE + "min_repeats = 20\n")
    runs = [envelope("ttft", ttft_rows(request_latencies(8, 10)))]
    outcomes = gate.evaluate(strict, runs, runs)
    assert all("not enough requests to judge (current 10, baseline 10)" in o.message for o in outcomes)


def test_with_min_repeats_a_tail_too_thin_to_judge_fails_instead_of_leaving_it_to_the_limit(tmp_path, envelope):
    strict = rules(tmp_path, TTFT_RULE + "min_repeats = 10\n")
    runs = [envelope("ttft", ttft_rows(request_latencies(9, 50)))]
    outcomes = {o.name: o for o in gate.evaluate(strict, runs, runs)}
    assert outcomes["ttft_p50"].status == "passed" and outcomes["ttft_p95"].status == "passed"
    assert outcomes["ttft_p99"].status == "failed"
    assert "not enough requests to judge (the 1 of 100 pooled requests beyond p99" in outcomes["ttft_p99"].message
