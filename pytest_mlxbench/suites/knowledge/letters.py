"""The knowledge prompt and the chosen letter read from a reply (pure).

The prompt is one user message: a fixed instruction to end with ``Answer: X``, the question and
its options lettered ``A.``, ``B.``, ... (no system message, zero-shot).

The letter is read as lm-eval's ``multi_choice_regex`` filter reads generative multiple-choice
replies (its flexible-extract for MMLU, lm-eval 0.4.13), with ``group_select=-1`` (the last
match), ``ignore_case`` and ``ignore_punctuation``, and ``answer_line_pattern`` as its regex:

1. ``answer_line``: the last ``Answer: X`` (any case for "answer", optional ``**`` and
   parentheses) whose X is one of the question's letters;
2. ``option_text``: else the last option text restated in the reply (both lower-cased and
   without punctuation; longer options tried first), as that option's letter;
3. ``colon_letter``: else the last option letter right after a colon (``...: C``);
4. ``standalone_letter`` (ours, after lm-eval's steps): else the last option letter standing
   alone: after the start of a line, a space, ``(`` or ``*``, and before ``)``, ``.``, ``,``,
   ``:``, ``;``, ``*`` or the end of a line ("The correct option is C.", "(B)").

Nothing found is ``no_answer``.
"""

from __future__ import annotations

import functools
import re
import sys
import unicodedata

from pytest_mlxbench.suites.knowledge.questions import Question

INSTRUCTION = ("Answer the following multiple-choice question. End your reply with a line of the form "
               '"Answer: X", where X is the letter of the correct option ({letters}).')
METHODS = ("answer_line", "option_text", "colon_letter", "standalone_letter")
FAILURE_KINDS = ("no_answer", "wrong_choice")


def answer_line_pattern(letters: str) -> str:
    return rf"(?i:answer)[*\s]*:[*\s]*\(?([{letters}])\b"


def prompt(question: Question) -> str:
    letters = question.letters
    listed = ", ".join(letters[:-1]) + f" or {letters[-1]}"
    options = "\n".join(f"{letter}. {text}" for letter, text in zip(letters, question.options))
    return f"{INSTRUCTION.format(letters=listed)}\n\nQuestion: {question.question}\n{options}"


def chat_messages(question: Question) -> list[dict]:
    return [{"role": "user", "content": prompt(question)}]


@functools.cache
def _punctuation_table() -> dict[int, None]:
    return dict.fromkeys(code for code in range(sys.maxunicode) if unicodedata.category(chr(code)).startswith("P"))


def fold(text: str) -> str:
    """Lower-cased, without Unicode punctuation: how option texts and replies are compared."""
    return text.lower().translate(_punctuation_table())


def _last(pattern: re.Pattern, text: str) -> re.Match | None:
    last = None
    for last in pattern.finditer(text):
        pass
    return last


def _answer_line(reply: str, letters: str) -> str | None:
    match = _last(re.compile(answer_line_pattern(letters)), reply)
    return match.group(1) if match else None


def _option_text(reply: str, options: tuple[str, ...], letters: str) -> str | None:
    folded = [fold(option.strip()) for option in options]
    if any(not text for text in folded):  # an empty alternative matches everywhere and hides the rest
        return None
    letter_of = dict(zip(folded, letters))  # equal texts: the later option, as a dict keeps it
    alternatives = sorted((re.escape(text) for text in folded), key=len, reverse=True)
    match = _last(re.compile("|".join(alternatives)), fold(reply))
    return letter_of[match.group(0)] if match else None


def _colon_letter(reply: str, letters: str) -> str | None:
    match = _last(re.compile(rf":\s*([{letters}])"), reply)
    return match.group(1) if match else None


def _standalone_letter(reply: str, letters: str) -> str | None:
    match = _last(re.compile(rf"(?m)(?:^|[\s(*])([{letters}])(?=[).,:;*]|[ \t]*$)"), reply)
    return match.group(1) if match else None


def extract_letter(reply: str, question: Question, methods: tuple[str, ...] = METHODS) -> tuple[str | None, str | None]:
    """``(letter, method)`` read from the reply by the first of ``methods`` that finds one (lm-eval's
    own steps alone: ``METHODS[:3]``); ``(None, None)`` when none does."""
    letters = question.letters
    steps = (
        ("answer_line", lambda: _answer_line(reply, letters)),
        ("option_text", lambda: _option_text(reply, question.options, letters)),
        ("colon_letter", lambda: _colon_letter(reply, letters)),
        ("standalone_letter", lambda: _standalone_letter(reply, letters)),
    )
    for method, step in steps:
        if method not in methods:
            continue
        letter = step()
        if letter:
            return letter, method
    return None, None


def judge(reply: str, question: Question) -> dict:
    """The verdict on a reply: ``{"passed", "kind", "detail", "letter", "method"}``."""
    letter, method = extract_letter(reply, question)
    expected = question.answer_letter
    verdict = {"passed": letter == expected, "kind": None, "detail": "", "letter": letter, "method": method}
    if letter is None:
        verdict.update(kind="no_answer", detail=f"no option letter in the reply (expected {expected})")
    elif letter != expected:
        verdict.update(kind="wrong_choice", detail=f"chose {letter} ({method}), expected {expected}")
    return verdict
