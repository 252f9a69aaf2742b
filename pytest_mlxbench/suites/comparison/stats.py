"""Pure statistics of the model comparison: paired tests of two models on the same cases.

* Pass/fail per case (accuracy, pass@1): McNemar's exact test. Only the discordant cases (one
  model right, the other wrong) carry information about the difference; under "no difference"
  each of them favours either model with probability 1/2, so the count favouring the second
  model is Binomial(d, 1/2) and the two-sided p-value is twice its smaller tail (capped at 1).
  The interval of the difference in pass rates is built so that it excludes 0 exactly when that
  p-value is below alpha (see ``paired_proportions``).
* Continuous measurements paired by index (repeats, requests): a paired bootstrap of the
  difference of a statistic (median or mean) of the two models' values, with the percentile
  interval; too few pairs give no interval at all (``BOOTSTRAP_MIN_PAIRS``).
* The minimum detectable difference of a paired comparison at 80% power.

Everything here is deterministic (the bootstrap takes a seed) and uses numpy only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from statistics import NormalDist

ALPHA = 0.05
POWER = 0.80
RESAMPLES = 10_000
BOOTSTRAP_MIN_PAIRS = 10  # below this the percentile bootstrap claims far more than the data hold


# ---------------------------------------------------------------- binomial


def _log_pmf(k: int, n: int, p: float) -> float:
    if p <= 0.0:
        return 0.0 if k == 0 else -math.inf
    if p >= 1.0:
        return 0.0 if k == n else -math.inf
    return (math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
            + k * math.log(p) + (n - k) * math.log1p(-p))


def binomial_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p), summed exactly term by term."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    if k > n - k:  # sum the shorter side (the level that matters here is never below ~1e-12)
        return max(0.0, 1.0 - _sum_pmf(k + 1, n, n, p))
    return min(1.0, _sum_pmf(0, k, n, p))


def binomial_sf(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p)."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if k < n - k:
        return max(0.0, 1.0 - _sum_pmf(0, k - 1, n, p))
    return min(1.0, _sum_pmf(k, n, n, p))


def _sum_pmf(first: int, last: int, n: int, p: float) -> float:
    """The binomial probabilities of first..last, in log space from one lgamma and a recurrence."""
    if p <= 0.0 or p >= 1.0:
        edge = 0 if p <= 0.0 else n
        return 1.0 if first <= edge <= last else 0.0
    log_odds = math.log(p) - math.log1p(-p)
    log_term = _log_pmf(first, n, p)
    total = 0.0
    for i in range(first, last + 1):
        total += math.exp(log_term)
        log_term += math.log((n - i) / (i + 1)) + log_odds if i < n else 0.0
    return total


def mcnemar_exact_p(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value of b and c discordant cases (as statsmodels' ``mcnemar(exact=True)``)."""
    d = b + c
    if d == 0:
        return 1.0
    return min(1.0, 2.0 * binomial_cdf(min(b, c), d, 0.5))


def clopper_pearson(successes: int, trials: int, alpha: float = ALPHA) -> tuple[float, float]:
    """The exact (Clopper-Pearson) two-sided interval of a binomial proportion."""
    if trials == 0:
        return 0.0, 1.0
    low = 0.0 if successes == 0 else _bisect(lambda p: binomial_sf(successes, trials, p) - alpha / 2)
    high = 1.0 if successes == trials else _bisect(lambda p: alpha / 2 - binomial_cdf(successes, trials, p))
    return low, high


def _bisect(increasing: Callable[[float], float], steps: int = 50) -> float:
    """The root in [0, 1] of a function that increases from negative to positive."""
    low, high = 0.0, 1.0
    for _ in range(steps):
        middle = (low + high) / 2
        if increasing(middle) < 0:
            low = middle
        else:
            high = middle
    return (low + high) / 2


# ---------------------------------------------------------------- paired pass/fail


@dataclass(frozen=True)
class Difference:
    """A difference (second minus reference) with its interval and p-value.

    ``low``/``high`` are None when the data cannot bound it (too few pairs); then it is never
    significant.
    """

    value: float
    low: float | None
    high: float | None
    p_value: float | None
    pairs: int
    test: str

    @property
    def significant(self) -> bool:
        """The interval excludes 0 (a difference the data can tell from noise)."""
        return self.low is not None and self.high is not None and (self.low > 0 or self.high < 0)


def paired_proportions(reference_only: int, other_only: int, pairs: int, alpha: float = ALPHA) -> Difference:
    """The difference in pass rates of two models on ``pairs`` shared cases, from the discordant
    counts: ``reference_only`` cases only the reference passed, ``other_only`` only the other.

    The difference is (other_only - reference_only) / pairs = r (2 pi - 1), with r the share of
    discordant cases and pi the share of them the other model won. The interval takes the exact
    (Clopper-Pearson) interval of pi, which excludes 1/2 exactly when the exact McNemar test
    rejects, and the exact interval of r, and bounds r (2 pi - 1) over both: it excludes 0
    exactly when McNemar's p-value is below alpha, and covers the difference more often than
    1 - alpha (conservative, because both intervals are).
    """
    if pairs <= 0:
        raise ValueError("a paired comparison needs at least one shared case")
    discordant = reference_only + other_only
    if discordant > pairs:
        raise ValueError(f"{discordant} discordant cases out of {pairs}")
    pi_low, pi_high = clopper_pearson(other_only, discordant, alpha)
    r_low, r_high = clopper_pearson(discordant, pairs, alpha)
    low_factor, high_factor = 2 * pi_low - 1, 2 * pi_high - 1
    low = low_factor * (r_high if low_factor < 0 else r_low)
    high = high_factor * (r_high if high_factor > 0 else r_low)
    return Difference((other_only - reference_only) / pairs, low, high,
                      mcnemar_exact_p(reference_only, other_only), pairs, "mcnemar-exact")


def min_detectable_difference(pairs: int, discordant_share: float, alpha: float = ALPHA,
                              power: float = POWER) -> float:
    """The smallest difference in pass rates a paired comparison of ``pairs`` cases finds with
    probability ``power`` at two-sided level ``alpha``: K sqrt(psi / n) with K = z(1 - alpha/2) +
    z(power), psi the share of discordant cases; a difference of D needs psi >= D, so psi is
    taken as at least D (which gives K^2 / n when the models almost always agree)."""
    if pairs <= 0:
        return 1.0
    k = NormalDist().inv_cdf(1 - alpha / 2) + NormalDist().inv_cdf(power)
    return min(1.0, max(k * math.sqrt(max(discordant_share, 0.0) / pairs), k * k / pairs))


def exact_power(difference: float, pairs: int, discordant_share: float, alpha: float = ALPHA) -> float:
    """The exact power of McNemar's exact test at ``alpha`` for a true difference in pass rates
    (other minus reference) and share of discordant cases, with ``pairs`` cases: the discordant
    count is Binomial(pairs, psi) and, given it, the count the other model wins is
    Binomial(d, (psi + D) / (2 psi)). Used to check ``min_detectable_difference``."""
    psi = max(discordant_share, abs(difference))
    if psi == 0:
        return 0.0
    pi = (psi + difference) / (2 * psi)
    total = 0.0
    for d in range(1, pairs + 1):
        weight = math.exp(_log_pmf(d, pairs, psi))
        if weight < 1e-12:
            continue
        critical = _largest_rejected_count(d, alpha)  # reject when min(b, c) <= critical
        if critical is None:
            continue
        total += weight * (binomial_cdf(critical, d, pi) + binomial_sf(d - critical, d, pi))
    return min(1.0, total)


def _largest_rejected_count(discordant: int, alpha: float) -> int | None:
    critical = None
    for k in range(discordant // 2 + 1):
        if mcnemar_exact_p(k, discordant - k) < alpha:
            critical = k
        else:
            break
    return critical


# ---------------------------------------------------------------- bootstrap


def paired_bootstrap(reference: Sequence[float], other: Sequence[float], statistic: str = "median",
                     resamples: int = RESAMPLES, seed: int = 0, alpha: float = ALPHA) -> Difference:
    """statistic(other) - statistic(reference), measured in pairs (index i of each belongs
    together), with the percentile interval of a paired bootstrap: the same resampled indices
    for both. The p-value is twice the share of resampled differences on the far side of 0 (the
    level at which the interval would reach 0), at least 1/resamples. Fewer than ``BOOTSTRAP_MIN_PAIRS`` pairs: no
    interval and no p-value. Sequences of different lengths cannot be paired: each is resampled
    on its own (test "bootstrap-unpaired")."""
    import numpy as np

    a, b = np.asarray(reference, dtype=float), np.asarray(other, dtype=float)
    value = float(_statistic(b, statistic) - _statistic(a, statistic))
    paired = len(a) == len(b)
    test = "paired-bootstrap" if paired else "bootstrap-unpaired"
    pairs = min(len(a), len(b))
    if pairs < BOOTSTRAP_MIN_PAIRS:
        return Difference(value, None, None, None, pairs, test)
    rng = np.random.default_rng(seed)
    a_index = rng.integers(0, len(a), size=(resamples, len(a)))
    b_index = a_index if paired else rng.integers(0, len(b), size=(resamples, len(b)))
    differences = _statistic(b[b_index], statistic, axis=1) - _statistic(a[a_index], statistic, axis=1)
    low, high = np.quantile(differences, [alpha / 2, 1 - alpha / 2])
    far_side = min(np.mean(differences <= 0), np.mean(differences >= 0))
    p_value = min(1.0, max(2 * far_side, 1 / resamples))  # no resample on the far side: p < 1/resamples
    return Difference(value, float(low), float(high), float(p_value), pairs, test)


def bootstrap_interval(values: Sequence[float], statistic: str = "median", resamples: int = RESAMPLES,
                       seed: int = 0, alpha: float = ALPHA) -> tuple[float, float] | None:
    """The percentile bootstrap interval of one model's statistic; None with too few values."""
    import numpy as np

    data = np.asarray(values, dtype=float)
    if len(data) < BOOTSTRAP_MIN_PAIRS:
        return None
    rng = np.random.default_rng(seed)
    resampled = _statistic(data[rng.integers(0, len(data), size=(resamples, len(data)))], statistic, axis=1)
    low, high = np.quantile(resampled, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def _statistic(values, statistic: str, axis=None):
    import numpy as np

    if statistic == "median":
        return np.median(values, axis=axis)
    if statistic == "mean":
        return np.mean(values, axis=axis)
    raise ValueError(f"unknown statistic {statistic!r}: use median or mean")
