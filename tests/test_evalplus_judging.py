"""The evalplus suite's tasks, expected outputs and candidate runs, through the real sandbox: base and
plus verdicts, the first failing input, time limits, inputs left out, the cache, and bad files."""

from __future__ import annotations

import json
import re
import time

import pytest

from pytest_mlxbench.errors import BenchInputError
from pytest_mlxbench.sandbox import Sandbox
from pytest_mlxbench.suites.evalplus import run as evalplus_run
from pytest_mlxbench.suites.evalplus.expected import (
    OUTPUT_BUDGET,
    ReferenceFailed,
    cache_file,
    expected_outputs,
)
from pytest_mlxbench.suites.evalplus.run import judge_data, run_samples, sample_verdict
from pytest_mlxbench.suites.evalplus.tasks import (
    MBPP_PLUS,
    load_tasks,
    shipped_ids,
    task_ids,
)

ADD = "def add(a, b):\n    return a + b\n"


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(workers=2) as pool:
        yield pool


def task_file(directory, **fields) -> str:
    """An EvalPlus-format file of one task (``add`` unless ``fields`` say otherwise)."""
    row = {"task_id": "Mine/0", "prompt": '"""Add two numbers."""\n', "entry_point": "add", "canonical_solution": ADD,
           "base_input": [[1, 2], [3, 4]], "plus_input": [[5, 6], [7, 8], [0, 0]], "atol": 0, "contract": "", **fields}
    path = directory / f"tasks-{time.monotonic_ns()}.jsonl"
    path.write_text(json.dumps(row) + "\n")
    return str(path)


def judged(sandbox, path: str, codes: list[str], cache) -> list[dict]:
    [task] = load_tasks(path).values()
    expected = expected_outputs(sandbox, task, "test", cache)
    return [sample_verdict(task, code, run) for code, run in zip(codes, run_samples(sandbox, task, expected, codes))]


def values(expected) -> dict:
    return {stage: [entry.get("value") for entry in entries] for stage, entries in expected.stages.items()}


def outcome(verdict: dict) -> tuple:
    return verdict["verdict"], verdict["base_passed"], verdict["plus_passed"], verdict["first_failure"]


# --- the shipped MBPP+ ----------------------------------------------------------------------------


def test_shipped_ids_are_read_without_parsing_and_match_the_tasks():
    ids = shipped_ids(MBPP_PLUS)
    assert len(ids) == 399 and ids[:3] == ["Mbpp/2", "Mbpp/3", "Mbpp/4"]
    assert task_ids(None) == ids == list(load_tasks(None))
    tasks = load_tasks(None)
    assert sum(len(task.plus_input) for task in tasks.values()) == 42_082
    assert tasks["Mbpp/793"].plus_input == []  # an empty object in the file, as EvalPlus reads it


def test_mbpp_inputs_get_the_argument_types_evalplus_gives_them():
    tasks = load_tasks(None)
    assert tasks["Mbpp/2"].base_input[0] == [(3, 4, 5, 6), (5, 7, 4, 10)]  # every argument a tuple
    assert all(isinstance(item, tuple) for item in tasks["Mbpp/63"].base_input[0][0])  # lists of tuples
    first = tasks["Mbpp/115"].plus_input  # lists of sets, an empty one as {} (EvalPlus's own quirk)
    assert all(isinstance(item, (set, dict)) for args in first for item in args[0])
    assert {type(item) for args in first for item in args[0] if not item} <= {dict}
    real, number = tasks["Mbpp/124"].base_input[0]
    assert isinstance(real, float) and isinstance(number, complex)
    assert isinstance(tasks["Mbpp/252"].base_input[0][0], complex)
    assert isinstance(tasks["Mbpp/580"].base_input[0][0], tuple)  # every list, however deep, a tuple
    assert tasks["Mbpp/3"].base_input == [[1], [2], [10], [35], [37]]  # a task without a rule: as in the file


# --- candidates through the judge -----------------------------------------------------------------


def test_base_and_plus_verdicts_and_where_a_sample_failed_first(sandbox, tmp_path):
    path = task_file(tmp_path)
    codes = [ADD,
             "def add(a, b):\n    return a + b if a < 5 else a - b\n",  # right on the base inputs only
             "def add(a, b):\n    if a == 3:\n        raise ValueError('three')\n    return a + b\n",
             "def add(a, b):\n    return iter([a + b])\n",  # not plain data
             "def add(a, b):\n    return a + b + 1\n"]
    verdicts = judged(sandbox, path, codes, tmp_path / "cache")
    assert [outcome(verdict) for verdict in verdicts] == [
        ("passed", True, True, None),
        ("failed", True, False, {"stage": "plus", "index": 0}),
        ("error", False, False, {"stage": "base", "index": 1}),
        ("unencodable", False, False, {"stage": "base", "index": 0}),
        ("failed", False, False, {"stage": "base", "index": 0}),
    ]
    assert verdicts[1]["detail"].startswith("plus input 0: AssertionError: plus input 0: returned -1, expected 11")
    assert verdicts[2]["detail"].startswith("base input 1: ValueError: three")


def test_a_hang_is_stopped_at_its_inputs_time_limit(sandbox, tmp_path, monkeypatch):
    monkeypatch.setattr(evalplus_run, "MIN_TIME_LIMIT_S", 1.0)  # EvalPlus's floor is 4 s: the same path, sooner
    path = task_file(tmp_path)
    started = time.monotonic()
    [verdict] = judged(sandbox, path, ["def add(a, b):\n    while a == 7:\n        pass\n    return a + b\n"],
                       tmp_path / "cache")
    assert outcome(verdict) == ("timeout", True, False, {"stage": "plus", "index": 1})
    assert "limit of 1 s" in verdict["detail"] and time.monotonic() - started < 10


def test_the_time_limits_are_evalplus_s(tmp_path):
    [task] = load_tasks(task_file(tmp_path)).values()

    class Known:  # expected outputs with reference times we choose
        stages = {"base": [{"value": 3, "seconds": 0.001}, {"value": 7, "seconds": 2.5}],
                  "plus": [{"value": 11, "seconds": 0.5}, {"lost": "too large"}, {"value": 0, "seconds": 30.0}]}

    data = judge_data(task, Known)
    assert [stage["limits"] for stage in data["stages"]] == [[4.0, 10.0], [4.0, 120.0]]  # max(4 s, 4 x reference)
    assert data["stages"][1]["indexes"] == [0, 2]  # the input without an expected output is left out


def test_the_float_tolerance_starts_again_at_the_plus_inputs(sandbox, tmp_path):
    # [1.0, 2] is no list of floats: only a float output before it (base) gives it a tolerance
    canonical = "def f(x):\n    return 0.5 if x == 0 else [1.0, 2]\n"
    candidate = "def f(x):\n    return 0.5 if x == 0 else [1.0000001, 2]\n"
    same_stage = task_file(tmp_path, entry_point="f", canonical_solution=canonical, base_input=[[0], [1]], plus_input=[])
    next_stage = task_file(tmp_path, entry_point="f", canonical_solution=canonical, base_input=[[0]], plus_input=[[1]])
    assert outcome(judged(sandbox, same_stage, [candidate], tmp_path / "c1")[0])[1:3] == (True, True)
    assert outcome(judged(sandbox, next_stage, [candidate], tmp_path / "c2")[0])[1:3] == (True, False)


def test_is_it_none_tasks_take_outputs_that_cannot_cross(sandbox, tmp_path):
    canonical = "import re\ndef check_str(text):\n    return re.search('^[aeiou]', text)\n"
    path = task_file(tmp_path, task_id="Mbpp/737", entry_point="check_str", canonical_solution=canonical,
                     base_input=[["annie"], ["dawood"]], plus_input=[["else"]])
    [task] = load_tasks(path).values()
    assert expected_outputs(sandbox, task, "test", tmp_path / "cache").stages["base"][0]["value"] is True
    right, none, wrong = judged(sandbox, path, [canonical, "def check_str(text):\n    return None\n",
                                                "def check_str(text):\n    return text\n"], tmp_path / "cache")
    assert outcome(right) == ("passed", True, True, None)
    assert outcome(none)[:3] == ("failed", False, False)
    assert outcome(wrong)[3] == {"stage": "base", "index": 1}  # "dawood" is not None: wrong


# --- expected outputs ----------------------------------------------------------------------------


def test_expected_outputs_are_cached_per_dataset_version(sandbox, tmp_path):
    [task] = load_tasks(task_file(tmp_path)).values()
    first = expected_outputs(sandbox, task, "v1", tmp_path)
    assert [entry["value"] for entry in first.stages["plus"]] == [11, 15, 0]
    closed = Sandbox(workers=1)
    closed.close()  # a second computation would fail on it
    assert expected_outputs(closed, task, "v1", tmp_path) == first
    cache_file(task, "v1", tmp_path).write_bytes(b"\x00garbage")
    again = expected_outputs(sandbox, task, "v1", tmp_path)  # unreadable: computed again
    assert values(again) == values(first) and again != first  # other reference times: a new run
    assert expected_outputs(closed, task, "v1", tmp_path) == again
    assert cache_file(task, "v2", tmp_path) != cache_file(task, "v1", tmp_path)


def test_an_output_too_large_to_carry_is_left_out_for_everyone(sandbox, tmp_path):
    canonical = f"def add(a, b):\n    return list(range({OUTPUT_BUDGET} + 1)) if a == 7 else a + b\n"
    path = task_file(tmp_path, canonical_solution=canonical)
    [task] = load_tasks(path).values()
    expected = expected_outputs(sandbox, task, "test", tmp_path / "cache")
    assert expected.left_out() == ["plus input 1: its output is too large to carry (MlxbenchOutputTooLarge: "
                                   "over 1,000,000 values)"]
    hang_there = "def add(a, b):\n    while a == 7:\n        pass\n    return a + b\n"
    assert outcome(judged(sandbox, path, [hang_there], tmp_path / "cache")[0]) == ("passed", True, True, None)


def test_a_reference_that_raises_is_a_harness_error(sandbox, tmp_path):
    path = task_file(tmp_path, canonical_solution="def add(a, b):\n    return a / b\n")
    [task] = load_tasks(path).values()
    with pytest.raises(ReferenceFailed, match=r"raises on plus input 2 \(ZeroDivisionError: division by zero\)"):
        expected_outputs(sandbox, task, "test", tmp_path / "cache")


# --- bad files ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("fields", "message"), [
    ({"entry_point": "not a name"}, "entry_point 'not a name' is not a Python function name"),
    ({"plus_input": [1, 2]}, "plus_input must be a list of argument lists"),
    ({"atol": -1}, "atol must be a number >= 0, got -1"),
    ({"prompt": None}, "field 'prompt' is missing or not a non-empty string"),
])
def test_bad_task_files_are_one_line_errors(tmp_path, fields, message):
    with pytest.raises(BenchInputError, match=":1: " + re.escape(message)):
        load_tasks(task_file(tmp_path, **fields))
