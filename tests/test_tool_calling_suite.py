"""The tool-calling suite end to end: pytest runs bench_suites/test_tool_calling.py in a subprocess
against a real mlx_lm.server, and we read what it wrote (terminal, envelope, sample log)."""

import json
from pathlib import Path

import pytest
from support.bfcl_answers import first_answer_calls
from support.contract import read_envelopes, rows_by_name, shared_dataset
from support.overfit import Example, train_tiny_model

from pytest_mlxbench.suites.tool_calling.bfcl import (
    load_cases,
    openai_tool_names,
    to_openai_tools,
)
from pytest_mlxbench.suites.tool_calling.checker import FAILURE_KINDS
from pytest_mlxbench.suites.tool_calling.run import (
    SHIPPED_ANSWERS,
    SHIPPED_QUESTIONS,
    chat_request,
)

ROOT = Path(__file__).resolve().parents[1]
SUITE_FILE = ROOT / "bench_suites" / "test_tool_calling.py"
BFCL_CATEGORIES = {  # question file -> (answer file or None, cases in the file)
    "BFCL_v4_simple_python.json": ("possible_answer/BFCL_v4_simple_python.json", 400),
    "BFCL_v4_multiple.json": ("possible_answer/BFCL_v4_multiple.json", 200),
    "BFCL_v4_parallel.json": ("possible_answer/BFCL_v4_parallel.json", 200),
    "BFCL_v4_parallel_multiple.json": ("possible_answer/BFCL_v4_parallel_multiple.json", 200),
    "BFCL_v4_irrelevance.json": (None, 240),
}
SECRET_KEY = "sk-tool-suite-secret-0123456789"



SHIPPED = {case.id: case for case in load_cases(SHIPPED_QUESTIONS, SHIPPED_ANSWERS)}

# What the trained model answers per shipped case (BFCL-form calls), and the verdict that must follow.
TRAINED_REPLIES = {
    "simple_0": ([{"get_weather_forecast": {"city": "Lisbon", "days": 3}}], None),
    "parallel_9": (first_answer_calls(SHIPPED["parallel_9"]), None),
    "simple_8": ([{"track_package": {"tracking_number": "JD014600003829", "carrier": "dhl"}}], "wrong_value"),
    "irrelevance_6": ([{"calculate_bmi": {"weight_kg": 144}}], "unexpected_call"),
}


def tool_call_text(case, calls) -> str:
    """The assistant text the server parses into exactly these tool calls (under their sent names)."""
    sent = openai_tool_names(case.functions)
    blocks = [f'<tool_call>\n{json.dumps({"name": sent[name], "arguments": arguments})}\n</tool_call>'
              for call in calls for name, arguments in call.items()]
    return "\n".join(blocks)


@pytest.fixture(scope="module")
def trained_model_dir(tmp_path_factory):
    """The tiny model overfit to answer the TRAINED_REPLIES cases, prompted exactly as the suite asks."""
    examples = []
    for case_id, (calls, _) in TRAINED_REPLIES.items():
        request = chat_request(SHIPPED[case_id], "default_model", {})
        examples.append(Example(request["messages"], tool_call_text(SHIPPED[case_id], calls), request["tools"]))
    return train_tiny_model(examples, tmp_path_factory.mktemp("tool-model"))


def run_suite(pytester, *args):
    out = pytester.path / "bench-out"
    result = pytester.runpytest_subprocess(str(SUITE_FILE), "--bench-out", str(out), "-p", "no:cacheprovider",
                                           "-rfEx", *args)
    return result, out


def samples_by_id(out: Path) -> dict[str, dict]:
    [log] = out.glob("*.samples.jsonl")
    return {sample["id"]: sample for sample in map(json.loads, log.read_text().splitlines())}


def bfcl_args(question_file: str) -> list[str]:
    answers, _ = BFCL_CATEGORIES[question_file]
    args = ["--tool-cases", str(shared_dataset("bfcl") / question_file)]
    return args + (["--tool-answers", str(shared_dataset("bfcl") / answers)] if answers else [])


def assert_no_traceback(result):
    output = "\n".join(result.outlines + result.errlines)
    assert "Traceback" not in output and "def pytest_generate_tests" not in output


# --- a model whose answers we know -------------------------------------------------------


@pytest.mark.slow
def test_each_case_gets_its_verdict_and_the_rows_count_them(pytester, trained_model_dir):
    result, out = run_suite(pytester, "--mlx-model", str(trained_model_dir), "-k", " or ".join(TRAINED_REPLIES))

    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=2, xfailed=2, deselected=len(SHIPPED) - len(TRAINED_REPLIES))
    result.stdout.fnmatch_lines_random([
        "XFAIL *test_tool_call[[]simple_8[]] - wrong_value: 'tracking_number' = 'JD014600003829' is not one of*",
        "XFAIL *test_tool_call[[]irrelevance_6[]] - unexpected_call: 1 call made ('calculate_bmi')*",
    ])

    samples = samples_by_id(out)
    assert set(samples) == set(TRAINED_REPLIES)
    for case_id, (calls, kind) in TRAINED_REPLIES.items():
        sample = samples[case_id]
        assert sample["verdict"]["passed"] is (kind is None) and sample["verdict"]["kind"] == kind, case_id
        assert sample["error"] is None and sample["latency_s"] > 0
        assert sample["usage"]["completion_tokens"] > 0
        replied = [{call["function"]["name"]: json.loads(call["function"]["arguments"])}
                   for call in sample["reply"]["tool_calls"]]
        assert replied == calls
        assert sample["request"]["messages"] == SHIPPED[case_id].messages
        assert sample["request"]["tools"] == to_openai_tools(SHIPPED[case_id].functions)
        assert {"max_tokens": 512, "temperature": 0.0, "seed": 0}.items() <= sample["request"].items()

    envelope = read_envelopes(out)["tool-calling"]
    rows = rows_by_name(envelope)
    accuracy = {name: row["value"] for name, row in rows.items() if name.startswith("accuracy_")}
    assert accuracy == {"accuracy_overall": 0.5, "accuracy_simple": 0.5, "accuracy_parallel": 1.0,
                        "accuracy_irrelevance": 0.0}
    failures = {kind: rows[f"failures_{kind}"]["value"] for kind in FAILURE_KINDS}
    assert failures == {**dict.fromkeys(FAILURE_KINDS, 0), "wrong_value": 1, "unexpected_call": 1}
    assert rows["errors"]["value"] == 0
    assert 0 < rows["latency_p50"]["value"] <= rows["latency_p95"]["value"]
    assert rows["decode"]["decode_tokens_per_second"] > 0
    assert rows["accuracy_overall"]["tags"]["source"] == "shipped" and rows["accuracy_overall"]["tags"]["cases"] == "4"
    assert envelope["gen_kwargs"] == {"max_gen_toks": 512, "temperature": 0.0}
    result.stdout.fnmatch_lines(["tool-calling: * rows* accuracy_overall 0.5 ratio*"])


# --- BFCL categories on the built-in tiny model --------------------------------------------


@pytest.mark.slow
def test_a_bfcl_category_runs_end_to_end_on_a_managed_server(pytester):
    result, out = run_suite(pytester, *bfcl_args("BFCL_v4_simple_python.json"), "--bench-limit", "5",
                            "--max-tokens", "16")

    assert result.ret == pytest.ExitCode.OK
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) + outcomes.get("xfailed", 0) == 5
    assert not {"failed", "error", "errors"} & set(outcomes)
    envelope = read_envelopes(out)["tool-calling"]
    rows = rows_by_name(envelope)
    assert {"accuracy_overall", "accuracy_simple_python", "errors", "latency_p50", "latency_p95", "decode"} <= set(rows)
    assert {f"failures_{kind}" for kind in FAILURE_KINDS} <= set(rows)
    assert rows["errors"]["value"] == 0
    assert rows["accuracy_overall"]["tags"]["source"] == "BFCL_v4_simple_python.json"
    assert set(samples_by_id(out)) == {f"simple_python_{index}" for index in range(5)}


@pytest.mark.slow
@pytest.mark.parametrize("question_file", BFCL_CATEGORIES)
def test_every_bfcl_category_runs_against_a_running_server(pytester, running_server, question_file):
    result, out = run_suite(pytester, *bfcl_args(question_file), "--mlx-base-url", running_server.base_url,
                            "--mlx-api-key", SECRET_KEY, "--bench-limit", "2", "--max-tokens", "8")

    assert result.ret == pytest.ExitCode.OK
    _, cases = BFCL_CATEGORIES[question_file]
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) + outcomes.get("xfailed", 0) == 2
    assert outcomes["deselected"] == cases - 2  # every case was collected
    envelope = read_envelopes(out)["tool-calling"]
    category = question_file.removeprefix("BFCL_v4_").removesuffix(".json")
    assert f"accuracy_{category}" in rows_by_name(envelope)
    assert rows_by_name(envelope)["errors"]["value"] == 0
    written = "".join(path.read_text() for path in out.rglob("*") if path.is_file())
    assert SECRET_KEY not in written and SECRET_KEY not in "\n".join(result.outlines)


# --- harness errors and bad input -----------------------------------------------------------


def test_a_server_error_is_a_failure_not_a_miss(pytester, running_server):
    wrong_path = running_server.base_url.removesuffix("/v1") + "/no-such-api"  # the real server answers 404
    result, out = run_suite(pytester, "--mlx-base-url", wrong_path, "-k", "simple_0 or irrelevance_6")

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(failed=2, deselected=len(SHIPPED) - 2)
    result.stdout.fnmatch_lines(["*test_tool_call[[]simple_0[]]*",
                                 "request failed (harness error, not a model miss): the server answered HTTP 404: *"])
    envelope = read_envelopes(out)["tool-calling"]
    rows = rows_by_name(envelope)
    assert rows["errors"]["value"] == 2
    assert not [name for name in rows if name.startswith("accuracy_")]
    assert sum(rows[f"failures_{kind}"]["value"] for kind in FAILURE_KINDS) == 0
    assert sum("test_tool_call[" in error and "HTTP 404" in error for error in envelope["errors"]) == 2
    samples = samples_by_id(out).values()
    assert all(sample["verdict"] is None and "HTTP 404" in sample["error"] for sample in samples)


def test_a_malformed_question_file_is_one_line(pytester):
    cases = pytester.path / "cases.jsonl"
    cases.write_text(SHIPPED_QUESTIONS.read_text().splitlines()[0] + "\n{not json\n")
    result, out = run_suite(pytester, "--tool-cases", str(cases), "--tool-answers", str(SHIPPED_ANSWERS))

    assert result.ret != pytest.ExitCode.OK
    result.stdout.fnmatch_lines([f"*{cases}:2: not valid JSON (*); each line must be one JSON object."])
    assert_no_traceback(result)
    assert not out.exists() or not list(out.glob("*.json"))


def test_a_category_that_needs_answers_refuses_to_run_without_them(pytester):
    questions = shared_dataset("bfcl") / "BFCL_v4_simple_python.json"
    result, _ = run_suite(pytester, "--tool-cases", str(questions))

    assert result.ret != pytest.ExitCode.OK
    needs_answers = "case 'simple_python_0' needs a possible-answer file (give it with --tool-answers); only irrelevance cases can go without one."
    result.stdout.fnmatch_lines([f"*{questions}:1: {needs_answers}"])
    assert_no_traceback(result)
