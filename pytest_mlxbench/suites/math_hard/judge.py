"""The verdict on one math-hard reply: math-verify on the extracted final answer (the case
verdict) and lm-eval's minerva exact match beside it, both through the checker process."""

from __future__ import annotations

from pytest_mlxbench.suites.math_hard.answers import (
    extract_answer,
    minerva_normalise,
    minerva_reference,
    minerva_unnormalised,
)
from pytest_mlxbench.suites.math_hard.equivalence import AnswerChecker, CheckerTimeout
from pytest_mlxbench.suites.math_hard.problems import Problem


def judge(reply: str, truncated: bool, problem: Problem, checker: AnswerChecker) -> dict:
    """``{"passed", "kind", "detail", "extracted", "minerva_answer", "minerva_reference", "minerva_match"}``;
    kinds: ``no_answer``, ``wrong_value``, ``truncated`` (the reply hit ``--max-tokens``),
    ``checker_timeout`` (the check ran past its time limit)."""
    extracted = extract_answer(reply)
    minerva_answer = minerva_normalise(minerva_unnormalised(reply))
    reference = minerva_reference(problem.solution, problem.answer)
    verdict = {"extracted": extracted, "minerva_answer": minerva_answer, "minerva_reference": reference,
               "minerva_match": checker.minerva_equal(minerva_answer, reference)}
    if extracted is None:
        kind = "truncated" if truncated else "no_answer"
        return {**verdict, "passed": False, "kind": kind, "detail": "no \\boxed{} answer or 'final answer is' statement"}
    try:
        checked = checker.math_verify(extracted, problem.answer)
    except CheckerTimeout as error:
        return {**verdict, "passed": False, "kind": "checker_timeout", "detail": f"{error} on {extracted[:200]!r}"}
    if checked["equivalent"]:
        return {**verdict, "passed": True, "kind": None, "detail": ""}
    kind = "truncated" if truncated else "wrong_value"
    return {**verdict, "passed": False, "kind": kind, "detail": f"answered {extracted[:200]!r}, expected {problem.answer!r}"}
