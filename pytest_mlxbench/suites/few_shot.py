"""Few-shot chat prompts as lm-eval builds them with ``--apply_chat_template --fewshot_as_multiturn``:
each exemplar a user turn and an assistant turn, then the question as the last user turn, no
system message. Shared by the reasoning and math-hard suites."""

from __future__ import annotations

import functools
import json

from pytest_mlxbench.suites import shipped_file


@functools.cache
def exemplars(package: str, name: str) -> tuple[dict, ...]:
    """The exemplars shipped as a JSON list in ``<package>/data/<name>``."""
    return tuple(json.loads(shipped_file(package, name).read_text(encoding="utf-8")))


def few_shot_messages(turns: list[tuple[str, str]], question: str) -> list[dict]:
    """``turns`` (user text, assistant text) as chat turns, then ``question`` as the last user turn."""
    messages = []
    for user, assistant in turns:
        messages += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    return messages + [{"role": "user", "content": question}]
