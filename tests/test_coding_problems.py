"""The coding suite's MBPP problems: both file formats, the prompt, the imports and names the test
program supplies, and one-line errors for bad files."""

from __future__ import annotations

import json
import re

import pytest
from support.contract import shared_dataset

from pytest_mlxbench.errors import BenchInputError
from pytest_mlxbench.suites.coding import program
from pytest_mlxbench.suites.coding.problems import MbppProblem, load_problems, task_ids
from pytest_mlxbench.suites.coding.prompt import chat_messages
from pytest_mlxbench.suites.evalplus.tasks import MBPP_PLUS
from pytest_mlxbench.suites.records import read_text

ORIGINAL = {"task_id": 11, "text": "Write a python function to remove first and last occurrence of a given character "
            "from the string.", "code": "def remove_Occ(s,ch): \r\n    return s.replace(ch, '', 1)[::-1].replace(ch, '', 1)"
            "[::-1]", "test_list": ['assert remove_Occ("hello","l") == "heo"', 'assert remove_Occ("abcda","a") == "bcd"'],
            "test_setup_code": "", "challenge_test_list": []}


def write_lines(path, *rows) -> str:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)


def test_the_shipped_mbpp_plus_problems():
    problems = load_problems(None)
    assert list(problems) == task_ids(None) and len(problems) == 399
    first = problems["Mbpp/2"]
    assert first.text == "Write a function to find the shared elements from the given two lists."
    assert first.entry_point == "similar_elements" and first.setup == ""
    assert first.asserts == ["assert similar_elements((3, 4, 5, 6),(5, 7, 4, 10)) == (4, 5)",
                             "assert similar_elements((1, 2, 3, 4),(5, 4, 3, 7)) == (3, 4)",
                             "assert similar_elements((11, 12, 14, 13),(17, 15, 14, 13)) == (13, 14)"]
    assert all(problem.text and problem.asserts and "assert" not in problem.text for problem in problems.values())


def test_the_shipped_file_is_the_shared_mbpp_plus_unchanged():
    shared = shared_dataset("mbppplus", "MbppPlus.jsonl")
    assert read_text(MBPP_PLUS, "shipped MBPP+") == shared.read_text(encoding="utf-8")


def test_the_prompt_is_lm_evals_mbpp_instruct_wording():
    [message] = chat_messages(load_problems(None)["Mbpp/2"])
    assert message == {"role": "user", "content": (
        "You are an expert Python programmer, and here is your task:\n"
        "Write a function to find the shared elements from the given two lists.\n"
        "Your code should pass these tests:\n"
        "assert similar_elements((3, 4, 5, 6),(5, 7, 4, 10)) == (4, 5)\n"
        "assert similar_elements((1, 2, 3, 4),(5, 4, 3, 7)) == (3, 4)\n"
        "assert similar_elements((11, 12, 14, 13),(17, 15, 14, 13)) == (13, 14)")}


def test_the_test_program_imports_the_modules_the_asserts_use():
    problems = load_problems(None)
    for task_id in ("Mbpp/120", "Mbpp/293", "Mbpp/442", "Mbpp/574"):  # math.isclose, never imported by the asserts
        assert program.supplied_imports(problems[task_id]) == "import math"
        assert program.judge_check(problems[task_id]).context == "import math"
    assert program.supplied_imports(problems["Mbpp/596"]) == "import sys"  # sys.getsizeof
    assert program.supplied_imports(problems["Mbpp/82"]) == ""  # its asserts import math themselves
    assert program.whole_program(problems["Mbpp/120"], "def max_product_tuple(x):\n    return 0\n").startswith(
        "import math\n\ndef max_product_tuple(x):")


def test_the_original_mbpp_format(tmp_path):
    setup = "class Pair:\n    def __init__(self, a, b):\n        self.a, self.b = a, b\n"
    row = {"task_id": 601, "text": "Find the longest chain of pairs.", "code": "def max_chain_length(arr, n):\n    return 3",
           "test_list": ["assert max_chain_length([Pair(5, 24), Pair(15, 25)], 2) == 3"], "test_setup_code": setup}
    problem = load_problems(write_lines(tmp_path / "mbpp.jsonl", ORIGINAL, row))["Mbpp/601"]
    assert problem.entry_point == "max_chain_length"  # the first function called that is neither builtin nor setup's
    assert problem.setup == setup
    assert program.exposed(problem) == ()  # Pair is the setup's, not the candidate's
    assert program.judge_check(problem).context == setup


def test_the_original_format_names_problems_as_mbpp_does(tmp_path):
    problems = load_problems(write_lines(tmp_path / "mbpp.jsonl", ORIGINAL))
    problem = problems["Mbpp/11"]
    assert (problem.entry_point, problem.text) == ("remove_Occ", ORIGINAL["text"])
    assert "\r" not in problem.canonical
    assert problem.test == "\n".join(ORIGINAL["test_list"]) + "\n"


def test_functions_the_asserts_call_besides_the_entry_point_are_exposed():
    problem = MbppProblem("x/1", "Sort and check.", "sort_it", "assert is_sorted(sort_it([3, 1]))\n", "", "")
    assert program.exposed(problem) == ("is_sorted",)


@pytest.mark.parametrize(("row", "message"), [
    ({"task_id": "x", "question": "?"}, "neither format's keys: give MBPP+ (task_id, prompt, entry_point, "
                                        "canonical_solution, assertion) or MBPP's original format"),
    ({**ORIGINAL, "test_list": []}, "test_list must be a non-empty list of assert lines"),
    ({**ORIGINAL, "test_list": ["assert len('a') == 1"]}, "the asserts of test_list call no function to write"),
    ({**ORIGINAL, "test_list": ["assert f(1 =="]}, "test_list is not valid Python"),
])
def test_bad_problem_files_are_one_line_errors(tmp_path, row, message):
    with pytest.raises(BenchInputError, match=":1: " + re.escape(message)):
        load_problems(write_lines(tmp_path / "bad.jsonl", row))
