"""Code extraction, program building and pass@k."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest

from pytest_mlxbench.sandbox import run_program
from pytest_mlxbench.suites.code_accuracy.extraction import (
    build_program,
    extract_code,
    mean_pass_at_k,
    pass_at_k,
)

PROMPT = 'from typing import List\n\n\ndef total(xs: List[int]) -> int:\n    """Sum of xs."""\n'
FULL = "def total(xs):\n    return sum(xs)\n"


@dataclass(frozen=True)
class Problem:
    prompt: str
    entry_point: str
    test: str


TOTAL = Problem(PROMPT, "total", "def check(candidate):\n    assert candidate([1, 2, 3]) == 6\n    assert candidate([]) == 0\n")


def passes(problem: Problem, code: str | None) -> bool:
    assert code is not None
    return run_program(build_program(problem, code), timeout_s=10).passed


# --------------------------------------------------------------------------- extraction


@pytest.mark.parametrize("fence", ["```python", "```py", "```", "```Python3"])
def test_fenced_block_with_any_python_tag(fence):
    reply = f"Here you go:\n{fence}\n{FULL}```\nIt sums the list."
    assert extract_code(reply, PROMPT, "total") == FULL


def test_block_defining_the_entry_point_wins_over_others():
    reply = "```python\nprint(total([1]))\n```\nand the solution:\n```python\n" + FULL + "```"
    assert extract_code(reply, PROMPT, "total") == FULL


def test_last_defining_block_is_the_revised_answer():
    reply = "```python\ndef total(xs):\n    return 0\n```\nOops, fixed:\n```python\n" + FULL + "```"
    assert extract_code(reply, PROMPT, "total") == FULL


def test_helpers_from_another_block_are_kept():
    reply = "```python\ndef helper(xs):\n    return sum(xs)\n```\n```python\ndef total(xs):\n    return helper(xs)\n```"
    code = extract_code(reply, PROMPT, "total")
    assert code is not None and "def helper" in code and passes(TOTAL, code)


def test_other_language_blocks_are_ignored():
    reply = "```bash\npip install nothing\n```\n```python\n" + FULL + "```"
    assert extract_code(reply, PROMPT, "total") == FULL


def test_only_non_python_fences_is_no_code():
    assert extract_code("```bash\nls -la\n```", PROMPT, "total") is None


def test_reply_cut_off_inside_a_fence():
    assert extract_code("```python\n" + FULL, PROMPT, "total") == FULL


def test_bare_code_with_prose_around_it():
    reply = "Sure! Here is the function:\n" + FULL + "This returns the sum."
    assert extract_code(reply, PROMPT, "total") == FULL.rstrip("\n") + "\n"


def test_full_function_with_imports_is_kept_whole():
    reply = "import math\nfrom typing import List\n\ndef total(xs: List[int]) -> int:\n    return math.fsum(xs)\n"
    assert extract_code(reply, PROMPT, "total") == reply


def test_indented_body_is_completed_with_the_prompt():
    code = extract_code("    return sum(xs)\n", PROMPT, "total")
    assert code == PROMPT + "    return sum(xs)\n"
    assert passes(TOTAL, code)


def test_unindented_body_is_indented_and_completed():
    code = extract_code("result = 0\nfor x in xs:\n    result += x\nreturn result", PROMPT, "total")
    assert code is not None and code.startswith(PROMPT)
    assert passes(TOTAL, code)


def test_body_followed_by_top_level_helper_keeps_the_helper_at_top_level():
    code = extract_code("    return _add_all(xs)\n\n\ndef _add_all(xs):\n    return sum(xs)\n", PROMPT, "total")
    assert passes(TOTAL, code)


def test_fenced_body_is_completed():
    code = extract_code("```python\n    return sum(xs)\n```", PROMPT, "total")
    assert code == PROMPT + "    return sum(xs)\n"


@pytest.mark.parametrize("tag", ["think", "thinking", "THINK"])
def test_thinking_sections_are_removed(tag):
    reply = f"<{tag}>Maybe:\n```python\ndef total(xs):\n    return 0\n```\n</{tag}>\n```python\n{FULL}```"
    assert extract_code(reply, PROMPT, "total") == FULL


def test_closing_think_tag_without_opening_drops_everything_before_it():
    reply = "I should loop... ```python\ndef total(xs): return -1\n``` </think>\n```python\n" + FULL + "```"
    assert extract_code(reply, PROMPT, "total") == FULL


@pytest.mark.parametrize("reply", ["", "   \n", "Sure", "I cannot help with that.", "<think>hmm</think>"])
def test_no_code_gives_none(reply):
    assert extract_code(reply, PROMPT, "total") is None


def test_code_defining_something_else_is_still_returned_to_fail_at_run_time():
    code = extract_code("```python\ndef add_up(xs):\n    return sum(xs)\n```", PROMPT, "total")
    assert code is not None
    assert not passes(TOTAL, code)


# --------------------------------------------------------------------------- build_program


def test_build_program_adds_prompt_imports_the_code_lacks():
    program = build_program(TOTAL, "def total(xs: List[int]) -> int:\n    return sum(xs)\n")
    assert program.startswith("from typing import List")
    assert program.rstrip().endswith("check(total)")
    assert passes(TOTAL, "def total(xs: List[int]) -> int:\n    return sum(xs)\n")


def test_build_program_does_not_repeat_imports_already_there():
    program = build_program(TOTAL, PROMPT + "    return sum(xs)\n")
    assert program.count("from typing import List") == 1


def test_build_program_brings_prompt_helpers_the_completion_needs():
    prompt = 'def is_even(n: int) -> bool:\n    return n % 2 == 0\n\n\ndef count_even(xs):\n    """Count even numbers."""\n'
    problem = Problem(prompt, "count_even", "def check(candidate):\n    assert candidate([1, 2, 4]) == 2\n")
    completion = "def count_even(xs):\n    return sum(1 for x in xs if is_even(x))\n"
    assert "def is_even" in build_program(problem, completion)
    assert passes(problem, completion)


# --------------------------------------------------------------------------- pass@k


def test_pass_at_1_is_the_fraction_correct():
    # 1 - C(3,1)/C(5,1) = 1 - 3/5
    assert pass_at_k(5, 2, 1) == pytest.approx(0.4)


def test_pass_at_k_with_two_draws():
    # 1 - C(3,2)/C(5,2) = 1 - 3/10
    assert pass_at_k(5, 2, 2) == pytest.approx(0.7)


def test_pass_at_k_is_one_when_every_draw_must_hit_a_correct_sample():
    # n - c = 7 wrong samples < k = 10 draws: some draw is always correct
    assert pass_at_k(10, 3, 10) == 1.0


def test_pass_at_k_is_zero_without_correct_samples():
    # C(10,k)/C(10,k) = 1
    assert pass_at_k(10, 0, 1) == 0.0
    assert pass_at_k(10, 0, 5) == 0.0


def test_pass_at_k_matches_exact_binomials():
    n, c, k = 200, 13, 50
    exact = 1 - math.comb(n - c, k) / math.comb(n, k)
    assert pass_at_k(n, c, k) == pytest.approx(exact, rel=1e-12)


def test_pass_at_k_stays_finite_for_huge_binomials():
    # C(1999,1000)/C(2000,1000) = 1000/2000, far beyond float range if computed directly
    assert pass_at_k(2000, 1, 1000) == pytest.approx(0.5)


@pytest.mark.parametrize("n,c,k", [(5, 6, 1), (5, -1, 1), (5, 2, 0), (5, 2, 6)])
def test_pass_at_k_rejects_impossible_counts(n, c, k):
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)


def test_mean_pass_at_k_averages_only_problems_with_enough_samples():
    # k=2: (5,2) -> 0.7, (10,0) -> 0.0; (1,1) has n < k and is left out
    assert mean_pass_at_k([(5, 2), (1, 1), (10, 0)], 2) == pytest.approx(0.35)
    assert mean_pass_at_k([(5, 2), (1, 1)], 1) == pytest.approx((0.4 + 1.0) / 2)


def test_mean_pass_at_k_is_none_when_no_problem_has_k_samples():
    assert mean_pass_at_k([(3, 1), (2, 2)], 5) is None
    assert mean_pass_at_k([], 1) is None


def test_build_program_brings_prompt_assignments_the_completion_needs():
    prompt = ('from typing import List, TypeVar\n\nT = TypeVar("T")\n\n\n'
              'def first(xs: List[T]) -> T:\n    """First item."""\n')
    problem = Problem(prompt, "first", "def check(candidate):\n    assert candidate([3, 4]) == 3\n")
    completion = "def first(xs: List[T]) -> T:\n    return xs[0]\n"
    assert build_program(problem, completion).count('T = TypeVar("T")') == 1
    assert passes(problem, completion)
    redefined = 'from typing import List, TypeVar\nT = TypeVar("T")\n' + completion
    assert build_program(problem, redefined).count('T = TypeVar("T")') == 1


@pytest.mark.parametrize("reply", [
    "def total(xs):\n    return " + "-" * 100_000 + "1",
    "```python\nx = " + "-" * 100_000 + "1\n```\n```python\ndef total(xs):\n    return x\n```",
    "    return " + "-" * 100_000 + "1",
], ids=["bare", "second-block", "body-only"])
def test_nesting_too_deep_for_the_parser_is_not_a_crash(reply):
    code = extract_code(reply, PROMPT, "total")
    assert code is None or "def total" in code


def test_a_long_reply_with_trailing_prose_keeps_only_the_code():
    # the trimming jumps to the parser's error line; one line at a time would be quadratic here
    prompt = 'def f(x):\n    """doc"""\n'
    reply = "def f(x):\n    return x\n" + "\n".join(f"prose line {i} with words" for i in range(20000))
    assert extract_code(reply, prompt, "f") == "def f(x):\n    return x\n"
