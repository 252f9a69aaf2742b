"""The coding suite's request: lm-eval's ``mbpp_instruct`` wording (the task text, then "Your code
should pass these tests:" and the original asserts, which name the function to write), as one chat
turn. Zero-shot, as lm-eval's MBPP+ tasks are: its three exemplars (MBPP 2, 3 and 4) are MBPP+ problems."""

from __future__ import annotations

TEMPLATE = "You are an expert Python programmer, and here is your task:\n{text}\nYour code should pass these tests:\n{tests}"


def chat_messages(problem) -> list[dict]:
    return [{"role": "user", "content": TEMPLATE.format(text=problem.text, tests="\n".join(problem.asserts))}]


def chat_request(problem, model: str, gen_kwargs: dict) -> dict:
    return {"model": model, "messages": chat_messages(problem), **gen_kwargs}
