"""Power of the regression gate: false alarms and detection rates, simulated through the real gate.

Every trial builds the rows a suite writes (the ``samples`` repeat tags of throughput rows, the
``request_samples`` tags of latency rows), puts a current and a baseline run into envelopes and
runs ``pytest_mlxbench.gate.evaluate`` with an ordinary relative rule on them. A trial counts as
flagged when the rule's outcome fails.

* Repeats (throughput, rule ``max_drop_pct = 10``): each repeat is the true rate times
  (1 + e), e ~ Normal(0, noise); the row's value is the median repeat. A/A runs share the true
  rate; slowdowns take 10, 20 or 50% off the current run's.
* Requests (latency rows p50/p90/p99, rule ``max_rise_pct = 10``): request latencies are
  lognormal with the given spread (sigma 0.1: one prompt sent again and again, as TTFT does;
  0.5: mixed prompts, as the accuracy suites send). "+50%" slows every request by half;
  "tail" makes one request in ten three times slower; "drift 3%" is an A/A pair whose runs are
  each scaled by their own exp(Normal(0, 0.03)) (a server a little faster one day than another).

Exits 1 when a target of the gate is missed: A/A false alarms <= 5% in every configuration the
evidence can judge (3 and 5 repeats; request rows with enough requests for their statistic),
a 20% slowdown at 3% noise caught >= 99% with 3 repeats, every request +50% caught >= 99% on
the request rows that can be judged at sigma 0.1, and at sigma 0.5 with 100 requests (a p99 of 300
requests at sigma 0.5 is too noisy itself to show +50% past the limit every time).

    .venv/bin/python benchmarks/gate_power.py [--trials 2000] [--seed 1]
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from dataclasses import dataclass

from pytest_mlxbench import gate
from pytest_mlxbench.gate import stats
from pytest_mlxbench.gate.evidence import TAIL_ALPHA
from pytest_mlxbench.measure import percentile, request_tags, spread_tags

SUITE, MODEL = "throughput", "simulated"
REPEAT_RULE = gate.Rule(index=0, source="gate_power", suite="throughput", name="decode", max_drop_pct=10)
LATENCY_RULE = gate.Rule(index=0, source="gate_power", suite="ttft", name="latency_*", max_rise_pct=10)


def envelope(suite: str, rows: list[dict]) -> dict:
    return {"schema_version": "1", "timestamp": "2026-01-01T00:00:00Z", "git_sha": "0000000", "trigger": "local",
            "suite": suite, "model": MODEL, "system": {"os": "sim", "chip": "sim", "memory_gb": 1}, "results": rows}


def flagged_share(rule: gate.Rule, current: list[dict], baseline: list[dict]) -> tuple[float, str]:
    """Share of trials whose outcome failed, and the evidence the gate named (of the first trial)."""
    outcomes = gate.evaluate([rule], [envelope(rule.suite, current)], [envelope(rule.suite, baseline)])
    return sum(outcome.status == "failed" for outcome in outcomes) / len(outcomes), outcomes[0].evidence


# ---------------------------------------------------------------- repeats


def repeat_row(trial: int, rng: random.Random, true_rate: float, noise: float, repeats: int) -> dict:
    samples = [true_rate * (1 + rng.gauss(0, noise)) for _ in range(repeats)]
    return {"name": "decode", "metric": f"trial{trial}", "value": sorted(samples)[(repeats - 1) // 2],
            "unit": "tok/s", "tags": spread_tags(samples)}


def repeat_rates(rng: random.Random, trials: int, noise: float, repeats: int, slowdown: float) -> tuple[float, str]:
    baseline = [repeat_row(trial, rng, 100.0, noise, repeats) for trial in range(trials)]
    current = [repeat_row(trial, rng, 100.0 * (1 - slowdown), noise, repeats) for trial in range(trials)]
    return flagged_share(REPEAT_RULE, current, baseline)


# ---------------------------------------------------------------- requests


@dataclass(frozen=True)
class Scenario:
    label: str
    scale: float = 1.0  # every current request
    slow_every: int = 0  # every n-th current request three times slower
    drift: float = 0.0  # run-to-run scale, both runs


REQUEST_SCENARIOS = (Scenario("A/A"), Scenario("drift 3%", drift=0.03), Scenario("+50%", scale=1.5),
                     Scenario("tail", slow_every=10))


def request_run(rng: random.Random, count: int, sigma: float, scenario: Scenario, current: bool) -> list[float]:
    run_scale = math.exp(rng.gauss(0, scenario.drift)) if scenario.drift else 1.0
    latencies = [rng.lognormvariate(0, sigma) * run_scale for _ in range(count)]
    if current:
        latencies = [value * scenario.scale for value in latencies]
        if scenario.slow_every:
            latencies = [value * 3 if index % scenario.slow_every == 0 else value for index, value in enumerate(latencies)]
    return latencies


def latency_row(trial: int, latencies: list[float], statistic: str) -> dict:
    value = percentile(latencies, float(statistic[1:]))
    return {"name": f"latency_{statistic}", "metric": f"trial{trial}", "value": value, "unit": "seconds",
            "tags": request_tags(latencies, statistic)}


def request_rates(rng: random.Random, trials: int, count: int, sigma: float, statistic: str,
                  scenario: Scenario) -> tuple[float, str]:
    current, baseline = [], []
    for trial in range(trials):
        baseline.append(latency_row(trial, request_run(rng, count, sigma, scenario, current=False), statistic))
        current.append(latency_row(trial, request_run(rng, count, sigma, scenario, current=True), statistic))
    return flagged_share(LATENCY_RULE, current, baseline)


# ---------------------------------------------------------------- the tables


def pct(rate: float) -> str:
    return f"{rate * 100:5.1f}%"


def print_table(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(row[column]) for row in [header, *rows]) for column in range(len(header))]
    print(f"\n{title}\n")
    for row in [header, ["-" * width for width in widths], *rows]:
        print("| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) + " |")


def repeats_table(rng: random.Random, trials: int, missed: list[str]) -> None:
    rows = []
    for noise in (0.03, 0.10):
        for repeats in (1, 2, 3, 5):
            cells = [repeat_rates(rng, trials, noise, repeats, slowdown) for slowdown in (0.0, 0.10, 0.20, 0.50)]
            evidence = cells[0][1]
            judged = "one-sided Mann-Whitney" in evidence
            rows.append([f"{noise:.0%}", str(repeats), *(pct(rate) for rate, _ in cells),
                         evidence.split(" (")[0].split(": ")[-1] + ("" if judged else " *")])
            if judged and cells[0][0] > 0.05:
                missed.append(f"A/A false alarms {pct(cells[0][0])} at {noise:.0%} noise with {repeats} repeats")
            if noise == 0.03 and repeats == 3 and cells[2][0] < 0.99:
                missed.append(f"20% slowdown at 3% noise with 3 repeats caught only {pct(cells[2][0])}")
    print_table(f"Repeats: throughput row, rule max_drop_pct = 10 (share of {trials} runs flagged)",
                ["noise", "repeats", "A/A", "-10%", "-20%", "-50%", "evidence"], rows)


def requests_table(rng: random.Random, trials: int, missed: list[str]) -> None:
    configurations = [(count, statistic, trials) for count in (10, 30, 100) for statistic in ("p50", "p90", "p99")]
    configurations.append((300, "p99", trials // 4))  # enough requests to judge a p99 tail
    rows = []
    for sigma in (0.1, 0.5):
        for count, statistic, runs in configurations:
            cells = [request_rates(rng, runs, count, sigma, statistic, scenario) for scenario in REQUEST_SCENARIOS]
            evidence = cells[0][1]
            judged = "the limit alone decides" not in evidence
            test = "tail or rank test" if "tail test" in evidence else "rank test" if judged else "limit alone *"
            rows.append([f"{sigma:g}", str(count), statistic, *(pct(rate) for rate, _ in cells), test, str(runs)])
            where = f"{statistic} of {count} requests, sigma {sigma}"
            if judged and cells[0][0] > 0.05:
                missed.append(f"A/A false alarms {pct(cells[0][0])} for {where}")
            if judged and (sigma == 0.1 or count == 100) and cells[2][0] < 0.99:
                missed.append(f"+50% on every request caught only {pct(cells[2][0])} for {where}")
    print_table("Requests: latency rows, rule max_rise_pct = 10 (share of runs flagged)",
                ["sigma", "requests", "row", *(scenario.label for scenario in REQUEST_SCENARIOS), "evidence", "runs"],
                rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=2000, help="trials per cell (default 2000)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    started = time.perf_counter()
    missed: list[str] = []
    repeats_table(rng, args.trials, missed)
    requests_table(rng, args.trials, missed)
    print("\n* too few repeats or requests for any test at 5%: the limit alone decides (a rule with min_repeats"
          " refuses to judge instead).")
    needed = ", ".join(f"p{q}: {stats.requests_needed(q, TAIL_ALPHA)}" for q in (90, 95, 99))
    print(f"Requests per run from which a tail can be judged: {needed}.")
    print(f"Seed {args.seed}, {time.perf_counter() - started:.0f} s.")
    for line in missed:
        print(f"TARGET MISSED: {line}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
