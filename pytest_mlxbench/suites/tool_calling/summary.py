"""Result rows of the tool-calling suite, computed from its sample log (pure: no model, no server).

One sample per case, as the suite records it::

    {"id", "category", "source": {"questions", "answers"}, "request", "reply",
     "verdict": {"passed", "kind", "detail"} | None, "error": str | None,
     "latency_s": float | None, "usage": {"completion_tokens", ...} | None}

Harness errors (the request failed: HTTP error, connection refused, no choices) have ``verdict``
None and an ``error``. They are not model misses: they are left out of every accuracy (numerator
and denominator), of the failure-kind counts and of latency and decode rate, and counted in the
``errors`` row; the failed test itself puts its one-line reason in the envelope's ``errors`` list.

Rows, in this order (the first ones are the terminal's headline):

* ``accuracy_overall``: passed / scored over all scored cases (a plain average over cases; BFCL's
  leaderboard "overall" weights categories instead, so it equals ours only for one category);
* ``accuracy_<category>`` per category, in the order the cases ran;
* ``failures_<kind>`` for each of the nine failure kinds, zeros included (unit ``count``);
* ``errors``: harness errors (unit ``count``);
* ``latency_p50`` and ``latency_p95``: request latency in seconds (send to full reply received);
* ``decode``: completion tokens the server reported (usage) summed over the cases that report them,
  divided by the summed latency of those cases. The requests are not streamed (as in BFCL), so the
  latency includes prompt processing: this is a lower bound of the pure decode rate. Left out when no
  reply reported usage.

Every row carries tags naming the case source (``source``: ``shipped`` or the question file's name;
``answers``: the answer file's name or ``none``) and the counts (``cases``, ``scored``, ``errors``);
accuracy rows add ``judged`` and ``passed``.
"""

from __future__ import annotations

from collections import Counter

from pytest_mlxbench.suites.rows import decode_rows, latency_rows, result_row
from pytest_mlxbench.suites.tool_calling.checker import FAILURE_KINDS

LATENCY_PERCENTILES = (50, 95)


def bench_summarize(samples: list[dict]) -> list[dict]:
    """The suite's aggregate rows from its samples (see the module docstring)."""
    scored = [sample for sample in samples if sample.get("verdict") is not None]
    tags = common_tags(samples, scored)
    return [
        *accuracy_rows(scored, tags),
        *failure_rows(scored, tags),
        result_row("errors", "errors", len(samples) - len(scored), "count", tags),
        *latency_rows(scored, LATENCY_PERCENTILES, tags),
        *decode_rows(scored, tags),
    ]


def common_tags(samples: list[dict], scored: list[dict]) -> dict[str, str]:
    tags = source_tags(samples)
    tags.update(cases=str(len(samples)), scored=str(len(scored)), errors=str(len(samples) - len(scored)))
    return tags


def source_tags(samples: list[dict]) -> dict[str, str]:
    """``source``: "shipped" or the question file's name; ``answers``: the answer file's name."""
    questions = _distinct(sample.get("source", {}).get("questions") for sample in samples)
    answers = _distinct(sample.get("source", {}).get("answers") for sample in samples)
    tags = {"source": questions or "unknown"}
    if questions != "shipped":
        tags["answers"] = answers or "none"
    return tags


def _distinct(values) -> str:
    return ",".join(dict.fromkeys(str(value) for value in values if value))


def accuracy_rows(scored: list[dict], tags: dict[str, str]) -> list[dict]:
    if not scored:
        return []
    rows = [_accuracy_row("accuracy_overall", scored, tags)]
    by_category: dict[str, list[dict]] = {}
    for sample in scored:
        by_category.setdefault(sample["category"], []).append(sample)
    for category, cases in by_category.items():
        rows.append(_accuracy_row(f"accuracy_{category}", cases, {**tags, "category": category}))
    return rows


def _accuracy_row(name: str, cases: list[dict], tags: dict[str, str]) -> dict:
    passed = sum(1 for sample in cases if sample["verdict"]["passed"])
    row_tags = {**tags, "judged": str(len(cases)), "passed": str(passed)}
    return result_row(name, "accuracy", passed / len(cases), "ratio", row_tags)


def failure_rows(scored: list[dict], tags: dict[str, str]) -> list[dict]:
    kinds = Counter(sample["verdict"]["kind"] for sample in scored if not sample["verdict"]["passed"])
    unknown = set(kinds) - set(FAILURE_KINDS)
    if unknown:
        raise ValueError(f"samples carry unknown failure kinds {sorted(map(str, unknown))}")
    return [result_row(f"failures_{kind}", "failures", kinds[kind], "count", tags) for kind in FAILURE_KINDS]
