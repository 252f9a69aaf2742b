"""GSM8K data, prompt, lm-eval gsm8k_cot filters and the verdict (pure; lm-eval's own code is the
reference in benchmarks/lm_eval_crosscheck.py)."""

from __future__ import annotations

import gzip
import json

import pytest

from pytest_mlxbench.errors import BenchInputError
from pytest_mlxbench.suites.answer_checked import cut_at_stop
from pytest_mlxbench.suites.reasoning import filters, gsm8k


def test_the_shipped_set_is_the_full_test_split():
    problems = gsm8k.load_problems()
    assert len(problems) == 1319
    assert problems[0].id == "gsm8k_0" and problems[0].target == "18"
    assert len({problem.id for problem in problems}) == 1319


def test_prompt_is_eight_exemplar_turns_then_the_question():
    problem = gsm8k.Problem("p", "How many?", "x\n#### 3")
    messages = gsm8k.chat_messages(problem)
    assert [m["role"] for m in messages] == ["user", "assistant"] * 8 + ["user"]
    assert messages[-1]["content"] == "Q: How many?\nA:"
    assert all(m["content"].endswith(".") and "The answer is" in m["content"] for m in messages[1:-1:2])


@pytest.mark.parametrize(("reply", "strict", "flexible"), [
    ("5 + 4 = 9. The answer is 9.", "9", "9."),
    ("The answer is 1,234.", "1,234", "1,234."),
    ("She pays $1,234.50 in all. The answer is 1234.5.", "1234.5", "1234.5."),
    ("The answer is -3.", "-3", "-3."),
    ("The answer is 18", "1", "18"),  # lm-eval's pattern wants one character after the number
    ("The answer is $18.", None, "$18."),
    ("the answer is 7.", None, "7."),
    ("The answer is 5. Later: The answer is 6.", "5.", "6."),  # the greedy number keeps its period
    ("No idea.", None, None),
    ("It is 3 apples", None, "3"),
])
def test_filters_extract_as_lm_eval(reply, strict, flexible):
    assert filters.strict_match(reply) == strict
    assert filters.flexible_extract(reply) == flexible


@pytest.mark.parametrize(("extracted", "reference", "expected"), [
    ("1,234", "1234", True), ("$18", "18", True), ("18.", "18", True), ("18.0", "18", False),
    (None, "18", False), ("-3", "-3", True), ("1234.5.", "1234.5", True), ("#### 7", "7", True),
])
def test_exact_match_normalises_like_lm_eval(extracted, reference, expected):
    assert filters.exact_match(extracted, reference) is expected


def test_verdict_kinds():
    assert filters.judge("The answer is 18.", "18", truncated=False).passed
    assert filters.judge("So 18 in all.", "18", truncated=False).kind == "no_answer"
    wrong = filters.judge("The answer is 17.", "18", truncated=False)
    assert (wrong.kind, wrong.correct) == ("wrong_value", {"strict-match": False, "flexible-extract": False})
    cut = filters.judge("Let me count 1, 2, 3", "18", truncated=True)
    assert cut.kind == "truncated" and not cut.passed
    flexible_only = filters.judge("The total is 18.", "18", truncated=False)
    assert flexible_only.correct == {"strict-match": False, "flexible-extract": True}


def test_reply_is_cut_at_the_first_stop_sequence():
    assert cut_at_stop("The answer is 4.\n\nQ: next", gsm8k.STOP) == "The answer is 4.\n\n"
    assert cut_at_stop("no stop here", gsm8k.STOP) == "no stop here"


def test_a_gzipped_file_with_ids_loads(tmp_path):
    path = tmp_path / "mine.jsonl.gz"
    lines = [{"id": "a", "question": "1+1?", "answer": "2\n#### 2"}, {"question": "2+2?", "answer": "#### 4"}]
    path.write_bytes(gzip.compress("\n".join(map(json.dumps, lines)).encode()))
    problems = gsm8k.load_problems(path)
    assert [(p.id, p.target) for p in problems] == [("a", "2"), ("gsm8k_1", "4")]


@pytest.mark.parametrize(("content", "message"), [
    ('{"question": "q", "answer": "no mark"}', "no final number after '#### '"),
    ('{"question": "q"}', "field 'answer' is missing"),
    ('{"question": "q", "answer": "#### 1"', "not valid JSON"),
    ('[1, 2]', "not a JSON object"),
    ("", "holds no records"),
    ('{"id": "x", "question": "q", "answer": "#### 1"}\n{"id": "x", "question": "q", "answer": "#### 1"}', "appears twice"),
])
def test_bad_files_are_one_line(tmp_path, content, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(BenchInputError, match=message) as error:
        gsm8k.load_problems(path)
    assert "\n" not in str(error.value)


def test_a_missing_file_is_one_line(tmp_path):
    with pytest.raises(BenchInputError, match="is not an existing file"):
        gsm8k.load_problems(tmp_path / "nope.jsonl")
