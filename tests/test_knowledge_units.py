"""Knowledge data (ARC, MMLU CSV and JSON lines, the hub), prompt and letter extraction (pure)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from pytest_mlxbench.errors import BenchInputError
from pytest_mlxbench.suites.knowledge import letters
from pytest_mlxbench.suites.knowledge.questions import Question, load_questions

QUESTION = Question("q", "Which part of a plant makes food?", ("the roots", "the leaves", "the stem", "the flower"),
                    1, "biology")


def test_shipped_arc_set_is_relettered():
    questions = load_questions()
    assert len(questions) == 1172
    numeric = next(q for q in questions if len(q.options) == 4 and q.id.startswith("NYSEDREGENTS"))
    assert numeric.letters == "ABCD" and numeric.answer_letter in "ABCD"
    assert {len(q.options) for q in questions} == {3, 4, 5}


def test_prompt_lists_lettered_options_and_the_answer_line():
    text = letters.prompt(QUESTION)
    assert text.startswith("Answer the following multiple-choice question.")
    assert '"Answer: X"' in text and "(A, B, C or D)" in text
    assert text.endswith("Question: Which part of a plant makes food?\nA. the roots\nB. the leaves\nC. the stem\nD. the flower")


@pytest.mark.parametrize(("reply", "letter", "method"), [
    ("Leaves make food.\nAnswer: B", "B", "answer_line"),
    ("**Answer:** (C)", "C", "answer_line"),
    ("answer: D", "D", "answer_line"),
    ("Answer: A\nWait, no. Answer: B", "B", "answer_line"),
    ("It is THE LEAVES!", "B", "option_text"),
    ("Not the roots but the stem", "C", "option_text"),
    ("My choice: D", "D", "colon_letter"),
    ("The correct option is C.", "C", "standalone_letter"),
    ("(A)", "A", "standalone_letter"),
    ("A plant uses light.", None, None),
    ("I don't know.", None, None),
    ("Answer: E", None, None),
])
def test_letter_extraction(reply, letter, method):
    assert letters.extract_letter(reply, QUESTION) == (letter, method)


def test_lm_eval_steps_alone_leave_the_standalone_letter_out():
    assert letters.extract_letter("The correct option is C.", QUESTION, letters.METHODS[:3]) == (None, None)


def test_mmlu_csv_directory(tmp_path):
    (tmp_path / "anatomy_test.csv").write_text('What is "x"?,a,b,c,d,C\nSecond,e,f,g,h,A\n')
    (tmp_path / "virology_test.csv").write_text("question,A,B,C,D,answer\nThird,i,j,k,l,D\n")
    questions = load_questions(tmp_path)
    assert [(q.id, q.subject, q.answer_letter) for q in questions] == [
        ("anatomy_0", "anatomy", "C"), ("anatomy_1", "anatomy", "A"), ("virology_0", "virology", "D")]
    assert questions[0].question == 'What is "x"?'


@pytest.mark.parametrize("record", [
    {"question": "q", "A": "1", "B": "2", "C": "3", "D": "4", "answer": "B", "subject": "math"},
    {"question": "q", "choices": ["1", "2", "3", "4"], "answer": 1, "subject": "math"},
    {"question": "q", "options": ["1", "2", "3", "4"], "answer": "B", "answer_index": 1, "category": "math"},
])
def test_json_lines_in_mmlu_layouts(tmp_path, record):
    path = tmp_path / "mmlu.jsonl"
    path.write_text(json.dumps(record) + "\n")
    [question] = load_questions(path)
    assert (question.options, question.answer_letter, question.subject) == (("1", "2", "3", "4"), "B", "math")


@pytest.mark.parametrize(("content", "message"), [
    ('{"question": "q", "A": "1", "B": "2", "answer": "C"}', "names none of the 2 options"),
    ('{"question": "q", "A": "1", "answer": "A"}', "needs 2 to 10"),
    ('{"question": "q", "choices": {"label": ["A"], "text": ["x", "y"]}, "answerKey": "A"}', "malformed"),
    ('{"A": "1", "B": "2", "answer": "A"}', "'question' is missing"),
])
def test_malformed_questions_are_one_line(tmp_path, content, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(BenchInputError, match=message):
        load_questions(path)


def test_bad_csv_rows_and_empty_directories_are_one_line(tmp_path):
    with pytest.raises(BenchInputError, match="holds no .csv files"):
        load_questions(tmp_path)
    (tmp_path / "x_test.csv").write_text("q,a,b,c\n")
    with pytest.raises(BenchInputError, match="4 columns"):
        load_questions(tmp_path)


def test_the_hub_offline_is_one_line_naming_the_alternatives():
    """Through the real ``datasets`` package when installed (offline here); else the install line."""
    code = ("from pytest_mlxbench.suites.knowledge.questions import load_questions\n"
            "from pytest_mlxbench.errors import BenchInputError\n"
            "try:\n    load_questions('mmlu')\nexcept BenchInputError as e:\n    print(e)\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    [line] = result.stdout.splitlines()
    assert line.startswith("--knowledge-dataset mmlu")
    assert "directory of MMLU's per-subject CSV files or a JSON-lines file" in line
