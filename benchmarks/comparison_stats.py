"""Agreement and honesty of the comparison's paired tests, against scipy and statsmodels.

* McNemar's exact p-value against statsmodels' ``mcnemar(exact=True)`` and scipy's ``binomtest``,
  and the exact binomial interval against statsmodels' ``proportion_confint(method="beta")``, on
  random tables: the largest differences.
* The paired bootstrap interval (10,000 resamples) against scipy's ``bootstrap(paired=True,
  method="percentile")`` with 200,000 resamples: how far the ends of ours are from being the
  2.5% and 97.5% quantiles of scipy's bootstrap distribution, in Monte Carlo standard errors.
* The coverage of the difference interval, simulated, where the difference is known.
* The exact power of McNemar's test at the minimum detectable difference (the target: 80%).

Needs scipy and statsmodels (``pip install -e '.[dev]'``). Exits 1 when an agreement or a
coverage target is missed.

    .venv/bin/python benchmarks/comparison_stats.py [--tables 2000] [--trials 4000]
"""

from __future__ import annotations

import argparse
import random
import sys
from functools import cache

import numpy as np
from scipy import stats as scipy_stats
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.proportion import proportion_confint

from pytest_mlxbench.suites.comparison import stats

SCENARIOS = ((20, 0.10, 0.10), (60, 0.0, 0.05), (100, 0.20, 0.10), (200, 0.02, 0.02), (200, 0.05, 0.25),
             (100, 0.0, 0.30), (500, 0.10, 0.12))
POWER_CASES = ((60, 0.5), (100, 0.3), (200, 0.2), (200, 0.0), (500, 0.1), (1000, 0.05))


def agreement(tables: int, rng: random.Random) -> tuple[float, float, float]:
    worst_statsmodels = worst_scipy = worst_interval = 0.0
    for _ in range(tables):
        scale = rng.choice((5, 20, 80, 400))
        b, c = rng.randint(0, scale), rng.randint(0, scale)
        ours = stats.mcnemar_exact_p(b, c)
        worst_statsmodels = max(worst_statsmodels, abs(ours - mcnemar([[7, b], [c, 9]], exact=True).pvalue))
        if b + c:
            worst_scipy = max(worst_scipy, abs(ours - scipy_stats.binomtest(c, b + c, 0.5).pvalue))
        trials = rng.choice((1, 10, 60, 500, 3000))
        successes = rng.randint(0, trials)
        reference = proportion_confint(successes, trials, alpha=0.05, method="beta")
        worst_interval = max(worst_interval, *np.abs(np.subtract(stats.clopper_pearson(successes, trials), reference)))
    return worst_statsmodels, worst_scipy, worst_interval


def bootstrap_agreement(seed: int) -> list[tuple[str, float, float, float]]:
    """Per statistic: scipy's interval and how far ours (20 seeds) are from being its bootstrap
    distribution's 2.5% and 97.5% quantiles, in Monte Carlo standard errors of the level."""
    data = np.random.default_rng(seed)
    reference = data.lognormal(3.0, 0.3, 30)
    other = reference * 1.03 * data.lognormal(0.0, 0.05, 30)
    found = []
    for statistic, function in (("median", np.median), ("mean", np.mean)):
        theirs = scipy_stats.bootstrap(
            (reference, other), lambda a, b, axis=-1: function(b, axis=axis) - function(a, axis=axis), paired=True,
            vectorized=True, n_resamples=200_000, method="percentile", random_state=np.random.default_rng(seed),
        )  # fmt: skip
        distribution, worst = theirs.bootstrap_distribution, 0.0
        for ours_seed in range(20):
            ours = stats.paired_bootstrap(reference, other, statistic, seed=ours_seed)
            for bound, level in zip((ours.low, ours.high), (0.025, 0.975)):
                error = np.sqrt(level * (1 - level) * (1 / stats.RESAMPLES + 1 / len(distribution)))
                worst = max(worst, (np.mean(distribution < bound) - level) / error,
                            (level - np.mean(distribution <= bound)) / error)
        interval_ = theirs.confidence_interval
        found.append((statistic, float(interval_.low), float(interval_.high), float(worst)))
    return found


@cache
def interval(reference_only: int, other_only: int, pairs: int) -> tuple[float, float]:
    difference = stats.paired_proportions(reference_only, other_only, pairs)
    return difference.low, difference.high


def coverage(pairs: int, reference_only: float, other_only: float, trials: int, seed: int) -> float:
    draws = np.random.default_rng(seed).multinomial(pairs, [reference_only, other_only,
                                                            1 - reference_only - other_only], size=trials)
    true = other_only - reference_only
    return float(np.mean([low - 1e-12 <= true <= high + 1e-12
                          for low, high in (interval(int(b), int(c), pairs) for b, c, _ in draws)]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=2000)
    parser.add_argument("--trials", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    missed = []

    worst_statsmodels, worst_scipy, worst_interval = agreement(args.tables, random.Random(args.seed))
    print(f"McNemar exact p vs statsmodels, {args.tables} tables: largest difference {worst_statsmodels:.2e}")
    print(f"McNemar exact p vs scipy binomtest: largest difference {worst_scipy:.2e}")
    print(f"exact binomial interval vs statsmodels beta: largest difference {worst_interval:.2e}")
    if max(worst_statsmodels, worst_scipy, worst_interval) > 1e-9:
        missed.append("agreement with the references")

    for statistic, low, high, gap in bootstrap_agreement(args.seed):
        print(f"paired bootstrap of the {statistic} vs scipy (200,000 resamples) [{low:.3f}, {high:.3f}]: "
              f"our 20 intervals' ends are its quantiles within {max(gap, 0):.2f} Monte Carlo standard errors")
        if gap > 4:
            missed.append(f"bootstrap {statistic}")

    print("coverage of the 95% difference interval (n, reference only, other only): simulated")
    floor = 0.95 - 3 * (0.95 * 0.05 / args.trials) ** 0.5
    for pairs, reference_only, other_only in SCENARIOS:
        covered = coverage(pairs, reference_only, other_only, args.trials, args.seed)
        print(f"  {pairs:4d} {reference_only:.2f} {other_only:.2f}: {covered:.3f}")
        if covered < floor:
            missed.append(f"coverage {pairs} {reference_only} {other_only}")

    print("exact power of McNemar's exact test at the minimum detectable difference (target 0.80)")
    for pairs, discordant in POWER_CASES:
        detectable = stats.min_detectable_difference(pairs, discordant)
        print(f"  n {pairs:4d}, discordant {discordant:.2f}: gap {detectable * 100:5.1f} points, "
              f"power {stats.exact_power(detectable, pairs, discordant):.3f}")

    if missed:
        print("MISSED: " + ", ".join(missed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
