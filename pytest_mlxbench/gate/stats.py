"""Pure statistics of the gate: the rank test, the tail test and their false-alarm rates.

Every test here is one-sided and asks "is the current run worse than the baseline run?", where
the caller says which direction is worse (``higher_is_better``). The null hypothesis is that both
runs draw from one distribution (the values are exchangeable); the false-alarm rate of a test is
the chance that it rejects when that holds. The rank test is exact for small samples (ties
included) and uses the tie-corrected normal approximation beyond; the tail test is always exact.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

ALPHA = 0.05
EXACT_LIMIT = 30  # pooled size up to which the rank test's null distribution is counted exactly


def _oriented(values: Sequence[float], higher_is_better: bool) -> list[float]:
    """Values turned so that larger is always worse."""
    return [-float(value) for value in values] if higher_is_better else [float(value) for value in values]


# ---------------------------------------------------------------- Mann-Whitney U


def rank_test_can_reject(n: int, m: int, alpha: float = ALPHA) -> bool:
    """Whether the exact rank test can reach ``alpha`` at all: its smallest p-value is 1 / C(n+m, n)."""
    return n >= 1 and m >= 1 and separation_false_alarm_rate(n, m) <= alpha


def separation_false_alarm_rate(n: int, m: int) -> float:
    """The chance that n current values all lie on the worse side of m baseline values when the
    runs do not differ: 1 / C(n+m, n) (1/6 for 2 vs 2, 1/20 for 3 vs 3)."""
    return 1 / math.comb(n + m, n)


def _worse_pooled(current: Sequence[float], baseline: Sequence[float], higher_is_better: bool) -> list[tuple[float, int]]:
    """Both runs' values turned so that larger is worse, sorted, each marked 1 if it is the current run's."""
    return sorted([(value, 1) for value in _oriented(current, higher_is_better)]
                  + [(value, 0) for value in _oriented(baseline, higher_is_better)])


def _tie_groups(pooled: list[tuple[float, int]]) -> list[tuple[int, int, int]]:
    """(size, twice the mean rank, current values in it) of each run of equal sorted values."""
    groups, start = [], 0
    while start < len(pooled):
        end = start
        while end + 1 < len(pooled) and pooled[end + 1][0] == pooled[start][0]:
            end += 1
        size = end - start + 1
        groups.append((size, start + end + 2, sum(flag for _, flag in pooled[start:end + 1])))
        start = end + 1
    return groups


def mann_whitney_p_worse(current: Sequence[float], baseline: Sequence[float], higher_is_better: bool) -> float:
    """One-sided p-value of "current tends to be worse than baseline" (Mann-Whitney U).

    Exact for pooled sizes up to ``EXACT_LIMIT`` (with ties, the exact permutation distribution
    of the mid-rank statistic), otherwise the normal approximation with tie correction and
    continuity correction, as scipy's ``mannwhitneyu(method="asymptotic")`` computes it.
    """
    n, m = len(current), len(baseline)
    if n == 0 or m == 0:
        raise ValueError("the rank test needs values on both sides")
    groups = _tie_groups(_worse_pooled(current, baseline, higher_is_better))
    doubled_rank_sum = sum(doubled_rank * in_current for _, doubled_rank, in_current in groups)
    u = doubled_rank_sum / 2 - n * (n + 1) / 2  # pairs where current is worse, ties counting half
    if n + m <= EXACT_LIMIT:
        if len(groups) == n + m:
            return _u_upper_tail(n, m, round(u))
        return _exact_tied_upper_tail(groups, n, doubled_rank_sum)
    ties = sum(size**3 - size for size, _, _ in groups)
    variance = n * m / 12 * ((n + m + 1) - ties / ((n + m) * (n + m - 1)))
    if variance <= 0:
        return 1.0
    z = (u - n * m / 2 - 0.5) / math.sqrt(variance)
    return 0.5 * math.erfc(z / math.sqrt(2))


def _exact_tied_upper_tail(groups: list[tuple[int, int, int]], n: int, observed: int) -> float:
    """P(rank sum of the current run >= observed) over every way to choose which n pooled values are
    the current run's, counted group by group (ways to take c of a tie group of size t: C(t, c))."""
    ways: dict[tuple[int, int], int] = {(0, 0): 1}  # (values taken, twice their rank sum) -> ways
    for size, doubled_rank, _ in groups:
        following: dict[tuple[int, int], int] = {}
        for (taken, rank_sum), count in ways.items():
            for take in range(min(size, n - taken) + 1):
                key = (taken + take, rank_sum + take * doubled_rank)
                following[key] = following.get(key, 0) + count * math.comb(size, take)
        ways = following
    total = sum(count for (taken, _), count in ways.items() if taken == n)
    return sum(count for (taken, rank_sum), count in ways.items() if taken == n and rank_sum >= observed) / total


def _u_upper_tail(n: int, m: int, u: int) -> float:
    """P(U >= u) under the null without ties, counted exactly."""
    total = math.comb(n + m, n)
    return sum(_u_count(n, m, k) for k in range(max(u, 0), n * m + 1)) / total


@cache
def _u_count(n: int, m: int, u: int) -> int:
    """Number of orderings of n current and m baseline values whose U statistic equals u."""
    if u < 0 or u > n * m:
        return 0
    if n == 0 or m == 0:
        return 1 if u == 0 else 0
    return _u_count(n - 1, m, u - m) + _u_count(n, m - 1, u)


def rank_test_false_alarm_rate(n: int, m: int, alpha: float = ALPHA) -> float:
    """The rank test's real size: the largest exact p-value at or below ``alpha`` (``alpha`` itself
    where the normal approximation is used)."""
    if n + m > EXACT_LIMIT:
        return alpha
    attainable = [_u_upper_tail(n, m, u) for u in range(n * m + 1)]
    return max((p for p in attainable if p <= alpha), default=0.0)


# ---------------------------------------------------------------- the tail test


@dataclass(frozen=True)
class TailTest:
    """The tail of the pooled requests beyond a percentile, and how many of them are the current run's.

    ``upper`` says which end of the worse-oriented pooled values the tail is: the ``k`` worst
    values (a current run with more of them is worse) or the ``k`` best (a current run with
    fewer of them is worse). Under the null the count is hypergeometric.
    """

    pooled: int
    current_size: int
    k: int
    upper: bool
    count: int

    def p_value(self) -> float:
        return self._tail_probability(self.count)

    def smallest_p_value(self) -> float:
        """The p-value of the most extreme outcome; above alpha the test can never reject."""
        most_extreme = min(self.k, self.current_size) if self.upper else max(0, self.k - (self.pooled - self.current_size))
        return self._tail_probability(most_extreme)

    def false_alarm_rate(self, alpha: float = ALPHA) -> float:
        """The largest attainable p-value at or below alpha: the test's real size."""
        attainable = [self._tail_probability(count) for count in range(self.k + 1)]
        return max((p for p in attainable if p <= alpha), default=0.0)

    def _tail_probability(self, count: int) -> float:
        counts = range(count, self.k + 1) if self.upper else range(0, count + 1)
        return sum(_hypergeometric(self.pooled, self.current_size, self.k, x) for x in counts)


@cache
def _hypergeometric(pooled: int, current_size: int, draws: int, x: int) -> float:
    """P(X = x) for X the current values among ``draws`` values taken from the pooled ones."""
    baseline_size = pooled - current_size
    if x < 0 or x > current_size or draws - x < 0 or draws - x > baseline_size:
        return 0.0
    return math.comb(current_size, x) * math.comb(baseline_size, draws - x) / math.comb(pooled, draws)


@cache
def tail_size(pooled: int, current_size: int, percentile: float, alpha: float = ALPHA) -> tuple[int, bool]:
    """(k, upper) of the tail beyond ``percentile`` (0..100, worse-oriented): above the median the
    pooled values past the percentile at the worse end, below it those short of it at the better end.

    The count is discrete, so the exact test's real size can be far under ``alpha`` for one k and
    near it for the next (200 pooled, p90: 1.6% at k = 20, 3.7% at k = 23, at alpha 4%). Of k and
    up to a fifth more, the one whose size comes closest to ``alpha`` is taken; it depends on the
    sizes alone, never on the values, so the test stays exact.
    """
    share = (100 - percentile) / 100 if percentile > 50 else percentile / 100
    upper = percentile > 50
    smallest = max(1, math.ceil(pooled * share - 1e-9))
    candidates = range(smallest, min(pooled, smallest + math.ceil(smallest / 5)) + 1)
    k = max(candidates, key=lambda k: (TailTest(pooled, current_size, k, upper, 0).false_alarm_rate(alpha), -k))
    return k, upper


def tail_test(
    current: Sequence[float], baseline: Sequence[float], percentile: float, higher_is_better: bool,
    alpha: float = ALPHA,
) -> TailTest:
    """The exact tail test of one percentile of the requests (an order-statistic test).

    Pool both runs' requests and take the ``k`` pooled values beyond the percentile: for the
    p90 of latencies, the slowest 10% (see ``tail_size``). If the current run's p90 has not
    moved, its requests are as likely as the baseline's to be among them, and their number is
    hypergeometric; if its slow requests got slower (or more frequent), it holds more of them.
    Ties at the edge of the tail are broken against the verdict "worse", so ties never cause a
    false alarm.
    """
    worse_percentile = 100 - percentile if higher_is_better else percentile
    pooled = sorted(
        [(value, 0) for value in _oriented(current, higher_is_better)]
        + [(value, 1) for value in _oriented(baseline, higher_is_better)]
    )  # among equal values the current run's sort first: lowest, i.e. least worse
    k, upper = tail_size(len(pooled), len(current), worse_percentile, alpha)
    tail = pooled[-k:] if upper else pooled[:k]
    count = sum(1 for _, is_baseline in tail if not is_baseline)
    return TailTest(pooled=len(pooled), current_size=len(current), k=k, upper=upper, count=count)


def requests_needed(percentile: float, alpha: float = ALPHA, limit: int = 100_000) -> int | None:
    """The fewest requests per run (the same in both runs) from which the tail test of
    ``percentile`` can reach ``alpha`` (for that number and the next few, as k steps up)."""

    def can_judge(n: int) -> bool:
        k, upper = tail_size(2 * n, n, percentile, alpha)
        return TailTest(2 * n, n, k, upper, 0).smallest_p_value() <= alpha

    n = 2
    while n <= limit:
        if all(can_judge(n + step) for step in range(4)):
            return n
        n += 1
    return None
