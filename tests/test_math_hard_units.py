"""MATH data, levels, prompt, final-answer extraction and lm-eval's minerva normalisation (pure)."""

from __future__ import annotations

import json

import pytest

from pytest_mlxbench.errors import BenchInputError
from pytest_mlxbench.suites.math_hard import answers, problems


def test_default_selection_is_the_134_level_5_problems_of_math_500():
    chosen = problems.load_problems()
    assert len(chosen) == 134 and {p.level for p in chosen} == {5}
    assert len(problems.load_problems(levels=problems.parse_levels("1-5"))) == 500
    assert {p.level for p in problems.load_problems(levels=problems.parse_levels("1,3-4"))} == {1, 3, 4}


@pytest.mark.parametrize("text", ["0", "6", "5-3", "x", "1-", "1-9"])
def test_unknown_levels_are_one_line(text):
    with pytest.raises(BenchInputError, match="--math-levels"):
        problems.parse_levels(text)


def test_math_format_file_with_solutions_only(tmp_path):
    path = tmp_path / "math.jsonl"
    rows = [{"problem": "p1", "solution": "so $\\boxed{\\frac{1}{2}}$", "level": "Level 5", "type": "Algebra"},
            {"problem": "p2", "solution": "$\\boxed{3}$", "level": "Level ?", "type": "Geometry"},
            {"problem": "p3", "answer": "7", "level": 4, "subject": "Prealgebra", "unique_id": "test/pre/1.json"}]
    path.write_text("\n".join(map(json.dumps, rows)))
    [first] = problems.load_problems(path)
    assert (first.id, first.answer, first.subject, first.level) == ("math_0", r"\frac{1}{2}", "Algebra", 5)
    assert [p.id for p in problems.load_problems(path, levels=frozenset({4}))] == ["test/pre/1.json"]
    with pytest.raises(BenchInputError, match="no problems at level"):
        problems.load_problems(path, levels=frozenset({1}))


@pytest.mark.parametrize(("row", "message"), [
    ({"problem": "p", "level": 5}, "no reference answer"),
    ({"problem": "p", "answer": "1"}, "'level' is missing"),
    ({"answer": "1", "level": 5}, "'problem' is missing"),
])
def test_malformed_rows_are_one_line(tmp_path, row, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(row))
    with pytest.raises(BenchInputError, match=message):
        problems.load_problems(path)


def test_prompt_is_four_minerva_turns_then_the_problem():
    problem = problems.Problem("p", "Find $x$.", "1", None, 5, "Algebra")
    messages = problems.chat_messages(problem)
    assert [m["role"] for m in messages] == ["user", "assistant"] * 4 + ["user"]
    assert messages[-1]["content"] == "Problem:\nFind $x$.\n\nSolution:"
    assert all("I hope it is correct." in m["content"] for m in messages[1:-1:2])


@pytest.mark.parametrize(("text", "boxed"), [
    (r"so $\boxed{\frac{1}{2}}$.", r"\frac{1}{2}"),
    (r"$\boxed{1}$ then $\boxed{\left(3, \frac{\pi}{2}\right)}$", r"\left(3, \frac{\pi}{2}\right)"),
    (r"\boxed{\{1, \{2\}\}}", r"\{1, \{2\}\}"),
    (r"\fbox{7}", "7"),
    (r"$\boxed 5$ and later", "5"),
    (r"\boxed{unclosed", None),
    ("nothing", None),
])
def test_last_boxed_matches_braces(text, boxed):
    assert answers.last_boxed(text) == boxed


@pytest.mark.parametrize(("reply", "expected"), [
    ("Final Answer: The final answer is $\\frac{2}{3}$. I hope it is correct.", r"\frac{2}{3}"),
    ("so $\\boxed{12}$.\nFinal Answer: The final answer is $12$. I hope it is correct.", "12"),
    ("The final answer is 3.5", "3.5"),
    ("Final Answer: The final answer is 3.. I hope it is correct.", "3"),
    ("Final Answer: The final answer is $34.$.", "34"),
    ("The final answer is $\\boxed{x=2}$.", "x=2"),
    ("Final Answer: The final answer is $4$.\nCheck: \\boxed{5}", "5"),  # the box comes later
    ("We get $8$.", None),
    ("", None),
])
def test_extract_answer_takes_the_last_box_or_statement(reply, expected):
    assert answers.extract_answer(reply) == expected


@pytest.mark.parametrize(("reply", "normalised"), [
    ("Final Answer: The final answer is $\\frac{1}{2}$. I hope it is correct.", r"\frac{1}{2}"),
    ("Final Answer: The final answer is $10,000$ dollars. I hope it is correct.", "10000"),
    ("Final Answer: The final answer is $(0,1)$. I hope it is correct.", "(0,1)"),
    ("Final Answer: The final answer is $x = 5$. I hope it is correct.", "5"),
    ("Final Answer: The final answer is $90^\\circ$. I hope it is correct.", "90"),
    ("Final Answer: The final answer is \\text{(C)}. I hope it is correct.", "(C)"),
    ("Final Answer: The final answer is $\\frac12$. I hope it is correct.", r"\frac{1}{2}"),
    ("Final Answer: The final answer is $\\sqrt2$. I hope it is correct.", r"\sqrt{2}"),
    ("Final Answer: The final answer is $\\left( 3, \\frac{\\pi}{2} \\right)$. I hope it is correct.",
     r"\left(3,\frac{\pi}{2}\right)"),  # "ft" inside \left is not a unit
    ("Final Answer: The final answer is $5$ cm. I hope it is correct.", "5"),
    ("Final Answer: The final answer is $5$ cm.", "[invalidanswer]"),  # lm-eval appends the end without a space
    ("The answer is 5.", "[invalidanswer]"),
])
def test_minerva_extraction_and_normalisation(reply, normalised):
    assert answers.minerva_normalise(answers.minerva_unnormalised(reply)) == normalised


def test_minerva_reference_comes_from_the_solution():
    assert answers.minerva_reference(r"so $\boxed{\dfrac{1}{2}}$", "ignored") == r"\dfrac{1}{2}"
    assert answers.minerva_reference(None, "1,000") == "1000"
