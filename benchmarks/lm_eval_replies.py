"""Varied model-like replies for the lm-eval cross-check (``lm_eval_crosscheck.py``), seeded.

Each generator mixes well-formed answers with the forms extraction gets wrong: numbers with
commas, currency, decimals and signs, several candidates, statements without their period, none
at all; LaTeX answers with units, degrees, ``\\text{}``, equations and thousands separators; letters
in every position, option texts restated, no letter.
"""

from __future__ import annotations

import random

FILLER = ("First, let's look at what we know.", "We compute step by step.", "Let me think about this.",
          "Adding these together:", "So far so good.", "Next,", "Therefore,", "Hmm, wait.")


def number_forms(rng: random.Random, value: str) -> str:
    """One written form of a GSM8K-style number."""
    try:
        number = float(value.replace(",", ""))
    except ValueError:
        return value
    whole = int(number) if number == int(number) else None
    forms = [value, f"{number:,.2f}", f"${value}", f"-{value}", f"{value}.00", f"{number + 0.5:g}",
             f"{value}%", f"{value}.", f"{value}..", f" {value} "]
    if whole is not None:
        forms += [f"{whole:,}", f"${whole:,}", f"${whole:,}.00", f"{whole * 1000:,}", str(whole + rng.randint(1, 9))]
    return rng.choice(forms)


def calculation(rng: random.Random) -> str:
    a, b = rng.randint(1, 2000), rng.randint(1, 99)
    op, result = rng.choice([("+", a + b), ("-", a - b), ("*", a * b), ("/", round(a / b, 2))])
    return f"{a:,} {op} {b} = {result}" if rng.random() < 0.3 else f"{a} {op} {b} = {result}"


def gsm8k_reply(rng: random.Random, target: str, other: str) -> str:
    """A chain-of-thought reply to a GSM8K problem whose answer is ``target`` (``other`` is a wrong one)."""
    steps = " ".join(rng.choice([calculation(rng), rng.choice(FILLER)]) for _ in range(rng.randint(0, 5)))
    value = target if rng.random() < 0.6 else other
    shown = number_forms(rng, value) if rng.random() < 0.7 else value
    endings = [
        f"The answer is {shown}.", f"The answer is {shown}", f"the answer is {shown}.", f"The answer is: {shown}.",
        f"The answer is {shown}.\n\nQ: What is 2 + 2?\nA: The answer is 4.", f"So the total is {shown}.",
        f"The answer is {shown}. The answer is {number_forms(rng, other)}.", f"#### {shown}",
        f"That gives {shown} dollars in all.", "I am not sure how to solve this.", "", f"Answer: {shown}",
        f"The answer is {shown} apples.", f"{shown}", f"The answer is {shown}!", f"The answer is -{shown}.",
        f"Total = {shown}\nThe answer is {shown}.", f"The answer is {shown},000.", "The answer is unknown.",
    ]
    return (steps + " " + rng.choice(endings)).strip() if rng.random() < 0.9 else rng.choice(endings)


def latex_forms(rng: random.Random, answer: str) -> str:
    """One written form of a MATH answer (some equivalent, some not)."""
    forms = [answer, f"{answer}.", answer.replace("\\frac", "\\dfrac"), answer.replace(" ", ""),
             f"x = {answer}", f"{answer} \\text{{ units}}", f"\\text{{{answer}}}", f"{answer}^\\circ",
             f"{answer} dollars", f"\\${answer}", f"{answer} cm", f"\\boxed{{{answer}}}", f"{answer},000",
             answer.replace("\\left", "").replace("\\right", ""), f"\\mathbf{{{answer}}}", f"{answer} ft",
             f"{answer}\\%", f"-{answer}", f"\\{{{answer}\\}}", f"({answer})"]
    if answer.isdigit():
        forms += [f"{int(answer):,}", f"{int(answer)}.0", f"\\frac{{{2 * int(answer)}}}{{2}}"]
    return rng.choice(forms)


def math_reply(rng: random.Random, answer: str, other: str) -> str:
    """A MATH reply whose final answer is ``answer`` (or ``other``) in some form."""
    value = latex_forms(rng, answer if rng.random() < 0.6 else other)
    work = rng.choice(["We simplify the expression.", "By Vieta's formulas the sum is as follows.",
                       "Substituting, $x^2 + 1 = 5$, so $x = 2$.", "Counting cases gives the total.", ""])
    endings = [
        f"\nFinal Answer: The final answer is ${value}$. I hope it is correct.",
        f"\nFinal Answer: The final answer is {value}. I hope it is correct.",
        f"\nFinal Answer: The final answer is ${value}$.", f" Therefore the answer is $\\boxed{{{value}}}$.",
        f"\nThe final answer is ${value}$.", f" So we get ${value}$.", "\nFinal Answer: I could not solve it.",
        f"\nFinal Answer: The final answer is $\\boxed{{{value}}}$. I hope it is correct.",
        f" $\\boxed{{{value}}}$\nFinal Answer: The final answer is ${latex_forms(rng, other)}$. I hope it is correct.",
        f"\nFinal Answer: The final answer is ${value}$ I hope it is correct.",
    ]
    return work + rng.choice(endings)


def letter_reply(rng: random.Random, options: list[str], right: int) -> str:
    """A reply to a multiple-choice question with ``options`` whose answer index is ``right``."""
    letters = "ABCDEFGHIJ"[:len(options)]
    pick = right if rng.random() < 0.6 else rng.randrange(len(options))
    letter, text = letters[pick], options[pick]
    other = letters[rng.randrange(len(options))]
    reasoning = rng.choice(["", "Let's think step by step. ", f"Option {other} is tempting, but it is wrong. ",
                            "A plant needs light. ", f"Looking at {other} and {letter}: ", "Hmm. "])
    endings = [
        f"Answer: {letter}", f"**Answer:** {letter}", f"Answer: ({letter})", f"answer: {letter}",
        f"ANSWER: {letter}.", f"Answer: {letter.lower()}", f"The answer is {text}.", f"{text.upper()}!",
        f"The correct option is {letter}.", f"My choice: {letter}", f"({letter})", f"{letter}",
        f"I think it's {letter} because {text.lower()}", "I don't know.", f"Answer: {letter}\nAnswer: {other}",
        f"{letter}. {text}", f"Answer:{letter}", f"The best answer is {letter}", f"Answer - {letter}",
        f"It must be {text}, not {options[(pick + 1) % len(options)]}.",
    ]
    return reasoning + rng.choice(endings)
