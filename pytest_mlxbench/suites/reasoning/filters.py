"""lm-eval's ``gsm8k_cot`` answer filters and exact match, and the suite's verdict per reply.

Both filters read the reply as lm-eval's ``regex`` filter does (lm-eval 0.4.13, ``gsm8k-cot.yaml``):

* ``strict-match``: the first ``The answer is (-?[0-9.,]+).`` (the final ``.`` is any character,
  as in lm-eval's pattern), its number stripped;
* ``flexible-extract``: the last match of ``(-?[$0-9.,]{2,})|(-?[0-9]+)``, its non-empty group
  stripped.

Nothing found is lm-eval's fallback ``[invalid]``. Exact match then removes ``,``, ``$``,
everything up to a ``#### `` and one trailing ``.`` from both the extraction and the reference,
lower-cases both, and compares them as strings.

The verdict of a case (pass, or a miss with its kind) follows ``strict-match``, the format the
prompt asks for: ``truncated`` when the reply hit ``--max-tokens`` (finish reason ``length``),
else ``no_answer`` when nothing was extracted, else ``wrong_value``.
"""

from __future__ import annotations

import dataclasses
import re

STRICT = re.compile(r"The answer is (-?[0-9.,]+).")
FLEXIBLE = re.compile(r"(-?[$0-9.,]{2,})|(-?[0-9]+)")
INVALID = "[invalid]"
IGNORED = (re.compile(","), re.compile(r"\$"), re.compile(r"(?s).*#### "), re.compile(r"\.$"))
FAILURE_KINDS = ("no_answer", "wrong_value", "truncated")
FILTERS = ("strict-match", "flexible-extract")


def strict_match(reply: str) -> str | None:
    match = STRICT.search(reply)
    return match.group(1).strip() if match else None


def flexible_extract(reply: str) -> str | None:
    last = None
    for last in FLEXIBLE.finditer(reply):
        pass
    if last is None:
        return None
    return (last.group(1) or last.group(2)).strip()


def normalise(text: str) -> str:
    for pattern in IGNORED:
        text = pattern.sub("", text)
    return text.lower()


def exact_match(extracted: str | None, reference: str) -> bool:
    return normalise(INVALID if extracted is None else extracted) == normalise(reference)


@dataclasses.dataclass(frozen=True)
class Verdict:
    passed: bool
    kind: str | None
    detail: str
    extracted: dict[str, str | None]  # per filter name
    correct: dict[str, bool]  # per filter name

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def judge(reply: str, reference: str, truncated: bool) -> Verdict:
    """The verdict on one reply against the reference answer (the text after ``####``)."""
    extracted = {"strict-match": strict_match(reply), "flexible-extract": flexible_extract(reply)}
    correct = {name: exact_match(value, reference) for name, value in extracted.items()}
    strict = extracted["strict-match"]
    flexible_note = f"flexible-extract found {extracted['flexible-extract']!r}"
    if correct["strict-match"]:
        return Verdict(True, None, "", extracted, correct)
    if truncated:
        kind, detail = "truncated", f"the reply hit --max-tokens; strict-match found {strict!r} ({flexible_note})"
    elif strict is None:
        kind, detail = "no_answer", f"no 'The answer is N.' in the reply ({flexible_note})"
    else:
        kind, detail = "wrong_value", f"answered {strict!r}, expected {reference!r}"
    return Verdict(False, kind, detail, extracted, correct)
