"""What the answer-checked suites (reasoning, math-hard, knowledge) share: one chat request per
case with its harness-error handling, the stop sequences applied to the reply, and the summary
rows every one of them reports.

A sample, as these suites record it::

    {"id", "subject", "source", "request", "reply": str | None, "finish_reason", "reference",
     "extracted", "verdict": {"passed", "kind", "detail", ...} | None, "error": str | None,
     "latency_s", "usage"}

A harness error (the request failed) has ``verdict`` None and an ``error``; it is left out of every
accuracy and counted in the ``errors`` row.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter

import pytest_mlxbench
from pytest_mlxbench.measure import percentile
from pytest_mlxbench.suites.rows import decode_rows, failed_request_sample, result_row

LATENCY_PERCENTILES = (50, 95)


@dataclasses.dataclass(frozen=True)
class Reply:
    text: str
    finish_reason: str | None
    usage: dict | None
    latency_s: float

    @property
    def truncated(self) -> bool:
        return self.finish_reason == "length"


def chat_request(messages: list[dict], model: str, gen_kwargs: dict, stop: tuple[str, ...] = ()) -> dict:
    request = {"model": model, "messages": messages, **gen_kwargs}
    if stop:
        request["stop"] = list(stop)
    return request


def cut_at_stop(text: str, stop: tuple[str, ...]) -> str:
    """The text up to the first stop sequence (what a server honouring ``stop`` returns)."""
    positions = [text.find(sequence) for sequence in stop if sequence in text]
    return text[:min(positions)] if positions else text


def ask(client, endpoint, request: dict, sample: dict, record_sample) -> Reply:
    """Send the request (``backends.chat.complete``) and cut the reply at its stop sequences. A
    failed request is a harness error: it is recorded and fails the test (never a model miss)."""
    completion = pytest_mlxbench.ask(client, endpoint, request, on_failure=failed_request_sample(sample, record_sample))
    text = cut_at_stop(completion.text, tuple(request.get("stop", ())))
    return Reply(text, completion.finish_reason, completion.usage, completion.latency_s)


def reply_fields(reply: Reply) -> dict:
    return {"reply": reply.text, "finish_reason": reply.finish_reason, "error": None,
            "latency_s": reply.latency_s, "usage": reply.usage}


# --- summary rows -------------------------------------------------------------------


def scored_samples(samples: list[dict]) -> list[dict]:
    return [sample for sample in samples if sample.get("verdict") is not None]


def common_tags(samples: list[dict], scored: list[dict]) -> dict[str, str]:
    sources = ",".join(dict.fromkeys(str(sample.get("source", "unknown")) for sample in samples))
    return {"source": sources or "unknown", "cases": str(len(samples)), "scored": str(len(scored)),
            "errors": str(len(samples) - len(scored))}


def accuracy_row(name: str, cases: list[dict], passed, tags: dict, metric: str = "accuracy") -> dict:
    """``passed(sample) -> bool`` over ``cases``: a ratio row with ``judged`` and ``passed`` tags, and
    the cases' summed request time as ``duration_seconds``."""
    count = sum(1 for sample in cases if passed(sample))
    seconds = sum(sample["latency_s"] for sample in cases if isinstance(sample.get("latency_s"), (int, float)))
    return result_row(name, metric, count / len(cases), "ratio", {**tags, "judged": len(cases), "passed": count},
                      duration_seconds=seconds)


def per_subject_rows(scored: list[dict], passed, tags: dict, key: str = "subject", prefix: str = "accuracy") -> list[dict]:
    """One accuracy row per value of ``sample[key]``, in the order values first appear; none when
    there is only one value."""
    groups: dict[str, list[dict]] = {}
    for sample in scored:
        groups.setdefault(str(sample.get(key, "unknown")), []).append(sample)
    if len(groups) < 2:
        return []
    return [accuracy_row(f"{prefix}_{slug(value)}", cases, passed, {**tags, key: value})
            for value, cases in groups.items()]


def slug(text: str) -> str:
    """A row-name part: ``"Counting & Probability"`` → ``counting_probability``."""
    return re.sub(r"[^0-9a-z]+", "_", text.lower()).strip("_") or "unknown"


def failure_rows(scored: list[dict], kinds: tuple[str, ...], tags: dict) -> list[dict]:
    counted = Counter(sample["verdict"]["kind"] for sample in scored if not sample["verdict"]["passed"])
    unknown = set(counted) - set(kinds)
    if unknown:
        raise ValueError(f"samples carry unknown failure kinds {sorted(map(str, unknown))}")
    return [result_row(f"failures_{kind}", "failures", counted[kind], "count", tags) for kind in kinds]


def tail_rows(samples: list[dict], scored: list[dict], tags: dict) -> list[dict]:
    """The rows every answer-checked suite ends with: errors, latency percentiles, decode rate."""
    rows = [result_row("errors", "errors", len(samples) - len(scored), "count", tags)]
    latencies = [sample["latency_s"] for sample in scored if isinstance(sample.get("latency_s"), (int, float))]
    if latencies:
        spread = {"min": f"{min(latencies):.6g}", "max": f"{max(latencies):.6g}", "requests": len(latencies)}
        for q in LATENCY_PERCENTILES:
            value = percentile(latencies, q)
            rows.append(result_row(f"latency_p{q}", "latency", value, "seconds", {**tags, **spread},
                                   duration_seconds=value))
    return rows + decode_rows(scored, tags)
