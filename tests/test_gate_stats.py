"""The gate's statistics against scipy, the reference: rank test p-values (exact and asymptotic),
the tail test as an exact permutation test, and the false-alarm rates the outcomes state."""

from __future__ import annotations

import math
import random

import pytest
from support.contract import IN_CI

from pytest_mlxbench.gate import stats


@pytest.fixture(scope="module")
def scipy_stats():
    try:
        import scipy.stats
    except ImportError:
        if IN_CI:
            pytest.fail("scipy is the reference of these tests and CI must run them", pytrace=False)
        pytest.skip("scipy is the reference of these tests: pip install -e '.[dev]'")
    return scipy.stats


def oriented(values, higher_is_better):
    """What "worse" means, turned into "greater", for scipy's alternative='greater'."""
    return [-value for value in values] if higher_is_better else list(values)


def distinct_values(rng: random.Random, count: int) -> list[float]:
    return [round(rng.lognormvariate(0, 0.5), 9) + index * 1e-12 for index in range(count)]


def test_exact_rank_test_equals_scipy_exact(scipy_stats):
    scipy = scipy_stats
    rng = random.Random(11)
    for _ in range(300):
        n, m = rng.randint(1, 12), rng.randint(1, 12)
        if n + m > stats.EXACT_LIMIT:
            continue
        current, baseline = distinct_values(rng, n), distinct_values(rng, m)
        higher_is_better = rng.random() < 0.5
        ours = stats.mann_whitney_p_worse(current, baseline, higher_is_better)
        theirs = scipy.mannwhitneyu(oriented(current, higher_is_better), oriented(baseline, higher_is_better),
                                    alternative="greater", method="exact").pvalue
        assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-12), (n, m)


def test_asymptotic_rank_test_with_ties_equals_scipy_asymptotic(scipy_stats):
    scipy = scipy_stats
    rng = random.Random(12)
    for _ in range(200):
        n, m = rng.randint(16, 120), rng.randint(16, 120)
        current = [round(rng.gauss(10, 2)) for _ in range(n)]  # whole numbers: many ties
        baseline = [round(rng.gauss(10.5, 2)) for _ in range(m)]
        higher_is_better = rng.random() < 0.5
        ours = stats.mann_whitney_p_worse(current, baseline, higher_is_better)
        theirs = scipy.mannwhitneyu(oriented(current, higher_is_better), oriented(baseline, higher_is_better),
                                    alternative="greater", method="asymptotic", use_continuity=True).pvalue
        assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-12), (n, m)


def test_exact_rank_test_with_ties_equals_the_exact_permutation_test(scipy_stats):
    """With ties, scipy's exact method does not apply; its exact permutation test does."""
    scipy = scipy_stats
    rng = random.Random(13)

    def u_worse(x, y):
        return sum((a > b) + 0.5 * (a == b) for a in x for b in y)

    for _ in range(60):
        n, m = rng.randint(2, 6), rng.randint(2, 6)
        current = [float(rng.randint(0, 4)) for _ in range(n)]
        baseline = [float(rng.randint(0, 4)) for _ in range(m)]
        ours = stats.mann_whitney_p_worse(current, baseline, higher_is_better=False)
        exact = scipy.permutation_test((current, baseline), lambda x, y: u_worse(x, y), vectorized=False,
                                       permutation_type="independent", alternative="greater",
                                       n_resamples=math.inf).pvalue
        assert ours == pytest.approx(exact, rel=1e-9)


def test_rank_test_false_alarm_rates():
    assert stats.rank_test_false_alarm_rate(3, 3) == pytest.approx(1 / 20)
    assert stats.rank_test_false_alarm_rate(3, 5) == pytest.approx(2 / 56)  # P(U >= 15) = 1/56 + 1/56
    assert stats.rank_test_false_alarm_rate(5, 5) <= stats.ALPHA
    assert stats.rank_test_false_alarm_rate(20, 20) == stats.ALPHA  # normal approximation
    assert not stats.rank_test_can_reject(2, 2) and not stats.rank_test_can_reject(1, 9)
    assert stats.rank_test_can_reject(3, 3) and stats.rank_test_can_reject(2, 5)
    assert stats.separation_false_alarm_rate(2, 2) == pytest.approx(1 / 6)
    assert stats.separation_false_alarm_rate(1, 1) == pytest.approx(1 / 2)


def brute_force_tail_count(current, baseline, percentile, higher_is_better):
    """The tail statistic computed the plain way, for the permutation reference."""
    worse_percentile = 100 - percentile if higher_is_better else percentile
    pooled = sorted(oriented(current, higher_is_better) + oriented(baseline, higher_is_better))
    k, upper = stats.tail_size(len(pooled), len(current), worse_percentile)
    tail = pooled[-k:] if upper else pooled[:k]
    return sum(value in tail for value in oriented(current, higher_is_better)), upper


def test_tail_test_is_the_exact_permutation_test_of_its_count(scipy_stats):
    scipy = scipy_stats
    rng = random.Random(14)
    for _ in range(40):
        n, m = rng.randint(3, 7), rng.randint(3, 7)
        current, baseline = distinct_values(rng, n), distinct_values(rng, m)
        percentile = rng.choice([75, 90, 95, 10, 25])
        higher_is_better = rng.random() < 0.5
        test = stats.tail_test(current, baseline, percentile, higher_is_better)
        count, upper = brute_force_tail_count(current, baseline, percentile, higher_is_better)
        assert (test.count, test.upper) == (count, upper)

        def statistic(x, y):
            return brute_force_tail_count(list(x), list(y), percentile, higher_is_better)[0]

        exact = scipy.permutation_test((current, baseline), statistic, vectorized=False,
                                       permutation_type="independent", n_resamples=math.inf,
                                       alternative="greater" if upper else "less").pvalue
        assert test.p_value() == pytest.approx(exact, rel=1e-9)


def test_tail_test_p_values_equal_scipys_hypergeometric(scipy_stats):
    scipy = scipy_stats
    rng = random.Random(15)
    for _ in range(200):
        n, m = rng.randint(5, 300), rng.randint(5, 300)
        current = [rng.lognormvariate(0.1, 0.4) for _ in range(n)]
        baseline = [rng.lognormvariate(0, 0.4) for _ in range(m)]
        test = stats.tail_test(current, baseline, rng.choice([90, 95, 99]), higher_is_better=False)
        reference = scipy.hypergeom(test.pooled, n, test.k)
        assert test.p_value() == pytest.approx(reference.sf(test.count - 1), rel=1e-9, abs=1e-15)
        assert test.smallest_p_value() == pytest.approx(reference.sf(min(test.k, n) - 1), rel=1e-9, abs=1e-15)
        assert test.false_alarm_rate() <= stats.ALPHA


def test_tail_test_breaks_ties_against_a_false_alarm():
    same = [1.0] * 20
    test = stats.tail_test(same, same, 90, higher_is_better=False)
    assert test.count == 0 and test.p_value() == 1.0
    test = stats.tail_test(same, same, 90, higher_is_better=True)
    assert test.p_value() == 1.0


def test_the_tail_takes_the_k_beyond_the_percentile_or_a_little_more_where_the_exact_size_is_closer():
    assert stats.tail_size(200, 100, 90) == (20, True)  # 4.85% at alpha 5%
    assert stats.tail_size(200, 100, 90, alpha=0.04) == (23, True)  # 1.59% at k = 20, 3.72% at k = 23
    assert stats.tail_size(200, 100, 10, alpha=0.04) == (23, False)
    for pooled, current_size, percentile in [(60, 30, 90), (120, 60, 95), (400, 200, 99), (57, 29, 95)]:
        k, _ = stats.tail_size(pooled, current_size, percentile, alpha=0.04)
        smallest = math.ceil(pooled * (100 - percentile) / 100 - 1e-9)
        assert smallest <= k <= smallest + math.ceil(smallest / 5)


@pytest.mark.parametrize(("percentile", "alpha", "needed"), [(90, 0.04, 16), (95, 0.04, 31), (99, 0.04, 151), (90, 0.05, 11)])
def test_requests_needed_to_judge_a_tail(percentile, alpha, needed):
    assert stats.requests_needed(percentile, alpha) == needed
    for n, judgeable in ((needed, True), (needed - 1, False)):
        k, upper = stats.tail_size(2 * n, n, percentile, alpha)
        assert (stats.TailTest(2 * n, n, k, upper, 0).smallest_p_value() <= alpha) is judgeable


def test_a_slow_tail_is_significant_only_with_enough_requests():
    baseline = [1.0 + index / 1000 for index in range(100)]
    current = [1.0 + index / 1000 for index in range(90)] + [3.0] * 10  # one request in ten three times slower
    assert stats.tail_test(current, baseline, 95, higher_is_better=False).p_value() < 0.01
    assert stats.mann_whitney_p_worse(current, baseline, higher_is_better=False) > stats.ALPHA  # ranks miss it
    few = stats.tail_test(current[::10], baseline[::10], 99, higher_is_better=False)
    assert few.smallest_p_value() > stats.ALPHA
