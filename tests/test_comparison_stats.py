"""The comparison's paired tests against the references: McNemar's exact test and the exact
binomial interval against statsmodels and scipy on random tables, the paired bootstrap against
scipy's within Monte Carlo error, the difference interval's coverage by simulation, and the
minimum detectable difference against McNemar's exact power."""

from __future__ import annotations

import random
from functools import cache

import numpy as np
import pytest
from support.contract import require_extra

from pytest_mlxbench.suites.comparison import stats


@pytest.fixture(scope="module")
def scipy_stats():
    require_extra("scipy", "pip install -e '.[dev]' (scipy is the reference of these tests)")
    import scipy.stats

    return scipy.stats


@pytest.fixture(scope="module")
def statsmodels_contingency():
    require_extra("statsmodels", "pip install -e '.[dev]' (statsmodels is the reference of these tests)")
    from statsmodels.stats import contingency_tables

    return contingency_tables


def random_tables(count: int, seed: int):
    """2x2 tables of paired pass/fail: [[both right, reference only], [other only, both wrong]]."""
    rng = random.Random(seed)
    for _ in range(count):
        scale = rng.choice((5, 20, 80, 400))
        yield [[rng.randint(0, scale), rng.randint(0, scale)], [rng.randint(0, scale), rng.randint(0, scale)]]


def test_mcnemar_exact_equals_statsmodels_and_scipy_on_random_tables(statsmodels_contingency, scipy_stats):
    for table in random_tables(600, seed=3):
        b, c = table[0][1], table[1][0]
        ours = stats.mcnemar_exact_p(b, c)
        theirs = statsmodels_contingency.mcnemar(table, exact=True).pvalue
        assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-300), table
        if b + c:
            assert ours == pytest.approx(scipy_stats.binomtest(c, b + c, 0.5).pvalue, rel=1e-9, abs=1e-300), table


def test_clopper_pearson_equals_statsmodels_beta_interval(scipy_stats):
    require_extra("statsmodels", "pip install -e '.[dev]'")
    from statsmodels.stats.proportion import proportion_confint

    rng = random.Random(5)
    for _ in range(400):
        trials = rng.choice((1, 3, 10, 60, 500, 3000))
        successes = rng.randint(0, trials)
        low, high = proportion_confint(successes, trials, alpha=0.05, method="beta")
        ours = stats.clopper_pearson(successes, trials)
        assert ours == pytest.approx((low, high), abs=1e-9), (successes, trials)


def test_the_difference_interval_excludes_zero_exactly_when_mcnemar_rejects():
    for reference_only in range(0, 41):
        for other_only in range(0, 41):
            pairs = reference_only + other_only + 17
            difference = stats.paired_proportions(reference_only, other_only, pairs)
            assert difference.significant == (difference.p_value < stats.ALPHA), (reference_only, other_only)
            assert difference.low <= difference.value <= difference.high
            assert difference.value == (other_only - reference_only) / pairs


@cache
def _interval(reference_only: int, other_only: int, pairs: int) -> tuple[float, float]:
    difference = stats.paired_proportions(reference_only, other_only, pairs)
    return difference.low, difference.high


@pytest.mark.parametrize(("pairs", "reference_only", "other_only"), [
    (20, 0.10, 0.10), (60, 0.0, 0.05), (100, 0.20, 0.10), (200, 0.02, 0.02), (200, 0.05, 0.25), (100, 0.0, 0.30),
])
def test_the_difference_interval_covers_the_true_difference_at_least_95_percent(pairs, reference_only, other_only):
    """Simulated paired runs with a known difference: the interval must hold it in >= 95% of them
    (less 3 Monte Carlo standard errors). An interval from the discordant share taken as known
    covers only 48% in the last scenario; ours accounts for both."""
    rng = np.random.default_rng(7)
    draws = rng.multinomial(pairs, [reference_only, other_only, 1 - reference_only - other_only], size=1500)
    true = other_only - reference_only
    covered = [low <= true + 1e-12 and true - 1e-12 <= high
               for low, high in (_interval(int(b), int(c), pairs) for b, c, _ in draws)]
    coverage = float(np.mean(covered))
    assert coverage >= 0.95 - 3 * (0.95 * 0.05 / len(draws)) ** 0.5, coverage


@pytest.mark.parametrize(("pairs", "discordant"), [(200, 0.2), (500, 0.1), (100, 0.3), (200, 0.0), (60, 0.5), (1000, 0.05)])
def test_the_minimum_detectable_difference_has_about_80_percent_exact_power(pairs, discordant):
    detectable = stats.min_detectable_difference(pairs, discordant)
    power = stats.exact_power(detectable, pairs, discordant)
    assert 0.74 <= power <= 0.85, (detectable, power)
    assert stats.exact_power(detectable / 2, pairs, discordant) < 0.5  # half the gap is mostly missed


def test_the_issue_example_200_cases_with_a_fifth_discordant_is_about_9_points():
    assert stats.min_detectable_difference(200, 0.2) == pytest.approx(0.0886, abs=0.001)


def lognormal_pairs(count: int, shift: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    base = rng.lognormal(3.0, 0.3, count)
    return base, base * shift * rng.lognormal(0.0, 0.05, count)


def quantile_misses(distribution: np.ndarray, bounds: tuple[float, float], resamples: int) -> float:
    """How far our interval's ends are from being the 2.5% and 97.5% quantiles of the reference's
    bootstrap distribution, in Monte Carlo standard errors of a quantile level from our resamples
    and theirs (0 when each end is such a quantile: the reference's share strictly below it is at
    most the level, and at or below it at least the level)."""
    worst = 0.0
    for bound, level in zip(bounds, (stats.ALPHA / 2, 1 - stats.ALPHA / 2)):
        below, at_or_below = np.mean(distribution < bound), np.mean(distribution <= bound)
        error = np.sqrt(level * (1 - level) * (1 / resamples + 1 / len(distribution)))
        worst = max(worst, (below - level) / error, (level - at_or_below) / error)
    return worst


@pytest.mark.parametrize(("statistic", "function"), [("median", np.median), ("mean", np.mean)])
def test_paired_bootstrap_agrees_with_scipy_within_monte_carlo_error(scipy_stats, statistic, function):
    """Our interval's ends are the quantiles of scipy's paired bootstrap distribution (200,000
    resamples) up to the Monte Carlo error of our 10,000, seed after seed; the median's
    distribution has steps, which this comparison of quantile levels allows for."""
    reference, other = lognormal_pairs(30, 1.02, seed=1)
    theirs = scipy_stats.bootstrap(
        (reference, other), lambda a, b, axis=-1: function(b, axis=axis) - function(a, axis=axis), paired=True,
        vectorized=True, n_resamples=200_000, method="percentile", random_state=np.random.default_rng(0),
    )  # fmt: skip
    distribution = theirs.bootstrap_distribution
    for seed in range(10):
        ours = stats.paired_bootstrap(reference, other, statistic, seed=seed)
        assert quantile_misses(distribution, (ours.low, ours.high), stats.RESAMPLES) <= 4, seed
        share_beyond_zero = min(np.mean(distribution <= 0), np.mean(distribution >= 0))
        assert ours.p_value == pytest.approx(2 * share_beyond_zero, abs=4 * np.sqrt(0.25 / stats.RESAMPLES))
    shifted = stats.paired_bootstrap(reference, other * 1.5, statistic)  # a far interval is far from theirs
    assert quantile_misses(distribution, (shifted.low, shifted.high), stats.RESAMPLES) > 4


def test_paired_bootstrap_finds_a_real_shift_and_not_noise():
    reference, faster = lognormal_pairs(20, 1.25, seed=2)
    shifted = stats.paired_bootstrap(reference, faster, "median")
    assert shifted.significant and shifted.low > 0 and shifted.p_value < 0.01
    assert shifted.test == "paired-bootstrap" and shifted.pairs == 20
    reference, same = lognormal_pairs(20, 1.0, seed=3)
    assert not stats.paired_bootstrap(reference, same, "median").significant


def test_too_few_pairs_give_no_interval_and_unequal_lengths_are_not_paired():
    few = stats.paired_bootstrap([1.0, 2.0, 3.0], [2.0, 3.0, 4.0])
    assert few.value == 1.0 and few.low is None and few.p_value is None and not few.significant
    unequal = stats.paired_bootstrap(list(range(10, 22)), list(range(30, 45)))
    assert unequal.test == "bootstrap-unpaired" and unequal.significant
    assert stats.bootstrap_interval([1.0] * 5) is None
