"""What a run brings to the gate as evidence of its noise, and which test compares two runs.

A run's measurement of one result field is read from its rows:

* **repeats**: whole measurements of the same quantity, repeated. They come from the samples
  given to ``evaluate``, from rows repeated with the same (name, metric), from the ``samples`` tag
  (comma-separated repeats of ``value``), or only as a range: the tags ``min``/``max`` together
  with ``repeats`` (at least 2). ``min``/``max`` without ``repeats`` describe something else (the
  spread of requests within one run, say) and are never taken for noise.
* **requests**: the individual requests of one run, in the ``request_samples`` tag, with the
  statistic of them that ``value`` holds in ``request_statistic`` (``p50``, ``p90``, ``mean``...).

Two runs are compared by their repeats when both have at least two; otherwise by their request
distributions when both have them; otherwise as repeats again (a run without any is one repeat,
and one against one leaves the limit alone to decide). See ``compare`` for the tests.
"""

from __future__ import annotations

import math
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from . import stats
from .format import format_number, format_rate

_PERCENTILE = re.compile(r"^p(\d+(?:\.\d+)?)$")
# A percentile row is judged by its tail, and by the whole distribution for a shift of every
# request (which the tail test sees late); the two levels add up to the gate's 5%.
TAIL_ALPHA, SHIFT_ALPHA = 0.04, 0.01
_CENTRAL = {"mean", "median"}


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class Run:
    """One run's measurement of a field: its point value, its repeats and its requests."""

    value: float
    repeats: tuple[float, ...]  # individual repeats; just (value,) without any
    repeat_count: int  # len(repeats), or the ``repeats`` tag when only a range is known
    low: float  # the range of the repeats
    high: float
    requests: tuple[float, ...] = ()
    statistic: str | None = None  # which statistic of the requests ``value`` is

    @property
    def has_repeats(self) -> bool:
        return self.repeat_count >= 2

    @property
    def only_range(self) -> bool:
        return self.repeat_count != len(self.repeats)

    def measurements(self) -> tuple[int, str]:
        """(count, "repeats" or "requests"): what this run alone would be judged by."""
        if not self.has_repeats and self.requests:
            return len(self.requests), "requests"
        return self.repeat_count, "repeats"


def read_run(rows: Sequence[dict], field: str, extra_samples: Sequence[float] = ()) -> Run:
    """The measurement of ``field`` over rows that share one result key."""
    values = [float(row[field]) for row in rows if is_number(row.get(field))]
    value = values[0] if len(values) == 1 else statistics.median(values)
    given = tuple(float(sample) for sample in extra_samples if is_number(sample))
    if given:
        return _repeats(value, given)
    if len(values) > 1:
        return _repeats(value, tuple(values))
    row = next(row for row in rows if is_number(row.get(field)))
    if field != "value" and row.get(field) != row["value"]:
        return _repeats(value, ())  # the tags describe ``value``, not this field
    tags = row.get("tags") or {}
    requests = _numbers(tags.get("request_samples"))
    statistic = str(tags["request_statistic"]) if requests and "request_statistic" in tags else None
    samples = _numbers(tags.get("samples"))
    if len(samples) >= 2:
        run = _repeats(value, samples)
    else:
        run = _range(value, tags) or _repeats(value, ())
    return Run(run.value, run.repeats, run.repeat_count, run.low, run.high, requests, statistic)


def _repeats(value: float, repeats: tuple[float, ...]) -> Run:
    repeats = repeats or (value,)
    return Run(value, repeats, len(repeats), min(value, *repeats), max(value, *repeats))


def _range(value: float, tags: dict) -> Run | None:
    """Repeats known only by their range: ``min``, ``max`` and ``repeats`` >= 2."""
    low, high, count = (_numbers(tags.get(key)) for key in ("min", "max", "repeats"))
    if len(low) != 1 or len(high) != 1 or len(count) != 1 or count[0] < 2 or count[0] != int(count[0]):
        return None
    return Run(value, (value,), int(count[0]), min(low[0], value), max(high[0], value))


def _numbers(text: object) -> tuple[float, ...]:
    if text is None:
        return ()
    try:
        numbers = tuple(float(part) for part in str(text).split(","))
    except ValueError:
        return ()
    return numbers if all(math.isfinite(number) for number in numbers) else ()


# ---------------------------------------------------------------- comparing two runs


@dataclass(frozen=True)
class Comparison:
    """How two runs are compared, and the verdict once asked.

    ``worse`` is True (worse beyond noise), False (within noise) or None (the evidence cannot
    judge: the limit alone decides). ``evidence`` names the test and its false-alarm rate.
    """

    evidence: str
    counts: tuple[int, int]  # measurements (repeats or requests) of the current and the baseline run
    unit: str
    worse: bool | None
    detail: str = ""


def compare(current: Run, baseline: Run, higher_is_better: bool) -> Comparison:
    """Whether ``current`` is worse than ``baseline`` beyond the noise of both runs.

    * repeats, both runs >= 2, and the exact rank test can reach 5% (3 vs 3 and more): the
      one-sided Mann-Whitney U test decides;
    * repeats otherwise: the runs' ranges must not overlap, the current one on the worse side
      (false-alarm rate 1 / C(n+m, n): 1/6 for 2 vs 2; 1 vs 1 leaves the limit alone);
    * requests of a percentile away from the median (p90, p99, p10...): the exact tail test at 4%,
      or the rank test of all requests at 1% (a shift of every request); too few requests to
      judge that tail leave the limit alone, and the outcome says so;
    * requests of the median or the mean (or of no named statistic): the rank test on the requests.
    """
    if (current.has_repeats and baseline.has_repeats) or not (current.requests and baseline.requests):
        return _compare_repeats(current, baseline, higher_is_better)
    percentile = _percentile_of(current.statistic or baseline.statistic)
    if percentile is not None and percentile != 50:
        return _compare_tails(current, baseline, percentile, higher_is_better)
    return _compare_request_ranks(current, baseline, higher_is_better)


def _compare_repeats(current: Run, baseline: Run, higher_is_better: bool) -> Comparison:
    n, m = current.repeat_count, baseline.repeat_count
    counts = f"{n} vs {m} repeat{'s' if max(n, m) > 1 else ''}"
    ranges = f"current {_range_text(current)}, baseline {_range_text(baseline)}"
    if n == 1 and m == 1:
        return Comparison(f"{counts}: no noise evidence, the limit alone decides", (n, m), "repeats", None,
                          "neither run has repeats to judge noise by")
    if not (current.only_range or baseline.only_range) and stats.rank_test_can_reject(n, m):
        p = stats.mann_whitney_p_worse(current.repeats, baseline.repeats, higher_is_better)
        rate = stats.rank_test_false_alarm_rate(n, m)
        return Comparison(f"{counts}, one-sided Mann-Whitney U (false-alarm rate {format_rate(rate)})",
                          (n, m), "repeats", p <= stats.ALPHA, f"p = {format_number(p)}; {ranges}")
    rate = stats.separation_false_alarm_rate(n, m)
    separated = current.high < baseline.low if higher_is_better else current.low > baseline.high
    why = "only ranges known" if current.only_range or baseline.only_range else "too few repeats for the rank test"
    return Comparison(f"{counts}, ranges must not overlap ({why}; false-alarm rate {format_rate(rate)})",
                      (n, m), "repeats", separated, ranges)


def _compare_tails(current: Run, baseline: Run, percentile: float, higher_is_better: bool) -> Comparison:
    n, m = len(current.requests), len(baseline.requests)
    test = stats.tail_test(current.requests, baseline.requests, percentile, higher_is_better, TAIL_ALPHA)
    name = f"p{format_number(percentile)}"
    if test.smallest_p_value() > TAIL_ALPHA:
        needed = stats.requests_needed(100 - percentile if higher_is_better else percentile, TAIL_ALPHA)
        return Comparison(
            f"{n} vs {m} requests: too few to judge the {name} tail (about {needed} per run needed);"
            " the limit alone decides", (n, m), "requests", None,
            f"the {test.k} of {test.pooled} pooled requests beyond {name} cannot show a difference")
    end = "worst" if test.upper else "best"
    rate = test.false_alarm_rate(TAIL_ALPHA) + stats.rank_test_false_alarm_rate(n, m, SHIFT_ALPHA)
    evidence = (f"{n} vs {m} requests, exact tail test of {name} (current requests among the {test.k} {end}"
                f" of {test.pooled}) at {format_rate(TAIL_ALPHA)}, or the rank test of all requests at"
                f" {format_rate(SHIFT_ALPHA)} (false-alarm rate {format_rate(rate)})")
    tail_p = test.p_value()
    shift_p = stats.mann_whitney_p_worse(current.requests, baseline.requests, higher_is_better)
    detail = (f"tail p = {format_number(tail_p)}, {test.count} of the {test.k} {end} requests are the current"
              f" run's; rank p = {format_number(shift_p)}")
    return Comparison(evidence, (n, m), "requests", tail_p <= TAIL_ALPHA or shift_p <= SHIFT_ALPHA, detail)


def _compare_request_ranks(current: Run, baseline: Run, higher_is_better: bool) -> Comparison:
    n, m = len(current.requests), len(baseline.requests)
    if not stats.rank_test_can_reject(n, m):
        return Comparison(f"{n} vs {m} requests: too few for the rank test; the limit alone decides",
                          (n, m), "requests", None, "too few requests to judge noise by")
    p = stats.mann_whitney_p_worse(current.requests, baseline.requests, higher_is_better)
    rate = stats.rank_test_false_alarm_rate(n, m)
    return Comparison(f"{n} vs {m} requests, one-sided Mann-Whitney U on the request distributions"
                      f" (false-alarm rate {format_rate(rate)})", (n, m), "requests", p <= stats.ALPHA,
                      f"p = {format_number(p)}")


def _percentile_of(statistic: str | None) -> float | None:
    if statistic is None or statistic in _CENTRAL:
        return None
    match = _PERCENTILE.match(statistic)
    return float(match.group(1)) if match and 0 < float(match.group(1)) < 100 else None


def _range_text(run: Run) -> str:
    if run.low == run.high:
        return f"{format_number(run.value)} (no repeats)" if run.repeat_count == 1 else format_number(run.value)
    return f"{format_number(run.low)}..{format_number(run.high)}"
