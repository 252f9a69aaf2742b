"""The coding and evalplus suites end to end: pytest runs their bench_suites files in a subprocess
against a stub server whose answers we choose (``--mlx-base-url``) or a real managed mlx_lm.server
on the tiny model, with the real sandbox, and we read the envelopes and sample logs they wrote."""

from __future__ import annotations

import textwrap

import pytest
from support.contract import ROOT, read_envelopes, rows_by_name, samples_of
from support.sandbox_attacks import forging
from support.stub_server import StubServer, in_turn

from pytest_mlxbench.errors import BenchInputError
from pytest_mlxbench.suites.code_accuracy.summary import VERDICTS
from pytest_mlxbench.suites.coding import prompt as coding_prompt
from pytest_mlxbench.suites.coding.problems import KNOWN_DATA_ERRORS, load_problems
from pytest_mlxbench.suites.evalplus import run as evalplus_run
from pytest_mlxbench.suites.evalplus.options import evalplus_dataset
from pytest_mlxbench.suites.evalplus.tasks import load_tasks

SUITE_FILES = {"coding": "test_coding.py", "evalplus": "test_evalplus.py"}
PROBLEMS = load_problems(None)
TASKS = load_tasks(None)
BY_PROMPT = {coding_prompt.chat_messages(problem)[0]["content"]: ("coding", problem) for problem in PROBLEMS.values()}
BY_PROMPT.update({evalplus_run.chat_messages(task)[0]["content"]: ("evalplus", task) for task in TASKS.values()})
# EvalPlus's special rules (set equality, any output, also 0, "is it None"; the last with asserts the
# coding suite runs in process), the two known data errors of coding
# (the rules themselves: test_evalplus_oracle; every one on its canonical solution: test_mbpp_canonical)
SPECIAL = ["Mbpp/2", "Mbpp/164", "Mbpp/295", "Mbpp/737"]


def canonical_of(request: dict) -> str:
    suite, case = BY_PROMPT[request["messages"][-1]["content"]]
    code = case.canonical if suite == "coding" else case.prompt + case.canonical_solution
    return f"Here is the function:\n```python\n{code.strip()}\n```\n"


def off_by_one(request: dict) -> str:
    """The reference, answering one more (or the opposite truth value) on every input."""
    suite, case = BY_PROMPT[request["messages"][-1]["content"]]
    entry_point = case.entry_point
    code = case.canonical if suite == "coding" else case.prompt + case.canonical_solution
    wrapper = textwrap.dedent(f"""
        _reference = {entry_point}
        def {entry_point}(*args):
            value = _reference(*args)
            if isinstance(value, bool):
                return not value
            return value + 1 if isinstance(value, (int, float)) else [value]
    """)
    return f"```python\n{code.strip()}\n{wrapper}```"


@pytest.fixture
def expected_cache(tmp_path_factory, monkeypatch):
    """The evalplus expected outputs of these tests, kept apart from the user's cache."""
    monkeypatch.setenv("MLXBENCH_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "mlxbench-cache"))


def run_suites(pytester, suites, *args):
    out = pytester.path / "bench-out"
    files = [str(ROOT / "bench_suites" / SUITE_FILES[suite]) for suite in suites]
    result = pytester.runpytest_subprocess(*files, "--bench-out", str(out), "-p", "no:cacheprovider", "-rfEx", *args)
    return result, out


def selecting(task_ids) -> list[str]:
    return ["-k", " or ".join(f"[{task_id}]" for task_id in task_ids)]


def verdict_counts(rows: dict) -> dict:
    return {kind: rows[f"verdict_{kind}"]["value"] for kind in VERDICTS}


# --- the reference solutions and wrong ones as the model's answers -----------------------------------

WRONG = ["Mbpp/3", "Mbpp/7", "Mbpp/9"]  # answered off by one: a wrong truth value, a wrapped list, one more


def reference_or_wrong(request: dict) -> str:
    _, case = BY_PROMPT[request["messages"][-1]["content"]]
    return off_by_one(request) if case.task_id in WRONG else canonical_of(request)


def test_reference_answers_pass_and_wrong_ones_are_wrong_answers_not_failures(pytester, expected_cache):
    with StubServer(reference_or_wrong) as stub:
        result, out = run_suites(pytester, ["evalplus", "coding"], "--mlx-base-url", stub.base_url,
                                 *selecting(SPECIAL + WRONG))

    assert result.ret == pytest.ExitCode.OK
    # coding: the asserts of 164 and 295 fail their own reference (known data errors)
    result.assert_outcomes(passed=2 * len(SPECIAL) - 2, xfailed=2 + 2 * len(WRONG))
    result.stdout.fnmatch_lines_random([
        "XFAIL *test_mbpp_problem[[]Mbpp/9[]] - failed: AssertionError at `assert find_Rotations(*",
        "XFAIL *test_mbpp_problem[[]Mbpp/7[]] - error: *",
        "XFAIL *test_evalplus_task[[]Mbpp/9[]] - failed: base failed, base input 0: AssertionError: base input 0: "
        "returned 2, expected 1",
    ])
    envelopes = read_envelopes(out)
    evalplus, coding = rows_by_name(envelopes["evalplus"]), rows_by_name(envelopes["coding"])
    total = len(SPECIAL) + len(WRONG)
    assert [row["name"] for row in envelopes["evalplus"]["results"][:2]] == ["pass@1_base", "pass@1_plus"]
    assert evalplus["pass@1_base"]["value"] == evalplus["pass@1_plus"]["value"] == pytest.approx(len(SPECIAL) / total)
    assert evalplus["pass@1_plus"]["tags"]["dataset"] == "mbpp+" and evalplus["harness_errors"]["value"] == 0
    assert verdict_counts(evalplus) == {**dict.fromkeys(VERDICTS, 0), "passed": len(SPECIAL), "failed": len(WRONG)}
    assert (evalplus["first_failure_base"]["value"], evalplus["first_failure_plus"]["value"]) == (len(WRONG), 0)
    assert coding["pass@1"]["value"] == pytest.approx((len(SPECIAL) - 2) / total)
    assert verdict_counts(coding) == {**dict.fromkeys(VERDICTS, 0), "passed": len(SPECIAL) - 2, "failed": 4, "error": 1}
    assert coding["verdicts_in_process"]["value"] == 1 and coding["harness_errors"]["value"] == 0  # Mbpp/737
    data_errors = {sample["task_id"]: sample["data_error"] for sample in samples_of(out, "coding") if sample["data_error"]}
    assert data_errors == KNOWN_DATA_ERRORS
    sample = next(sample for sample in samples_of(out, "evalplus") if sample["task_id"] == "Mbpp/737")
    assert (sample["base_passed"], sample["plus_passed"], sample["first_failure"]) == (True, True, None)
    assert sample["inputs"] == {"base": 3, "plus": len(TASKS["Mbpp/737"].plus_input)}
    assert sample["isolation"] == "judge"  # a match object never needs to cross: only whether it is None


def test_samples_right_on_base_inputs_only_pass_base_not_plus(pytester, expected_cache):
    task = TASKS["Mbpp/404"]  # minimum(a, b); base inputs (1, 2), (-5, -4), (0, 0)
    base_only = "```python\ndef minimum(a, b):\n    return min(a, b) if abs(a) <= 5 and abs(b) <= 5 else max(a, b)\n```"
    first = "```python\ndef minimum(a, b):\n    return a\n```"  # right on every base input too
    right = f"```python\n{task.canonical_solution.strip()}\n```"
    with StubServer(in_turn([base_only, first, right])) as stub:
        result, out = run_suites(pytester, ["evalplus"], "--mlx-base-url", stub.base_url, *selecting([task.task_id]),
                                 "--code-samples", "3", "--temperature", "0.5", "--bench-concurrency", "1")

    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=1, deselected=398)
    rows = rows_by_name(read_envelopes(out)["evalplus"])
    assert (rows["pass@1_base"]["value"], rows["pass@1_plus"]["value"]) == (1.0, pytest.approx(1 / 3))
    assert (rows["first_failure_base"]["value"], rows["first_failure_plus"]["value"]) == (0, 2)
    samples = samples_of(out, "evalplus")
    assert [sample["seed"] for sample in samples] == [0, 1, 2]
    assert [(sample["base_passed"], sample["plus_passed"]) for sample in samples] == [(True, False)] * 2 + [(True, True)]
    assert samples[0]["first_failure"]["stage"] == "plus" and samples[0]["detail"].startswith("plus input ")


# --- hostile answers ---------------------------------------------------------------------------------


def test_forged_passes_through_both_suites_are_wrong_answers(pytester, expected_cache):
    """Candidates written against our runner (exit 0 mid-call, rigged ``__eq__``, patched runner
    globals) for ``maximum(a, b)``, answering ``a - b``: none is a pass, the sandbox serves on."""
    attacks = [forging("os._exit(0)"),
               "class SneakyInt(int):\n    def __eq__(self, other):\n        return True\n    __hash__ = int.__hash__\n"
               "def add(a, b):\n    return SneakyInt(a - b)\n",
               forging("frame = sys._getframe()\nwhile frame is not None:\n    frame.f_globals.update("
                       "{name: 0 for name in frame.f_globals if name.isupper()})\n    frame = frame.f_back")]
    replies = [f"```python\n{attack.replace('def add(', 'def maximum(')}\n```" for attack in attacks for _ in SUITE_FILES]
    with StubServer(in_turn(replies)) as stub:
        result, out = run_suites(pytester, ["coding", "evalplus"], "--mlx-base-url", stub.base_url,
                                 *selecting(["Mbpp/309"]), "--code-samples", str(len(attacks)), "--temperature", "0.5",
                                 "--bench-concurrency", "1")

    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(xfailed=2, deselected=2 * 398)
    for suite in SUITE_FILES:
        samples = samples_of(out, suite)
        assert len(samples) == len(attacks) and not [s for s in samples if s["verdict"] == "passed"]
        assert {sample["isolation"] for sample in samples} == {"judge"}
    assert not rows_by_name(read_envelopes(out)["evalplus"])["pass@1_plus"]["value"]


# --- bad input ---------------------------------------------------------------------------------------


def test_a_bad_evalplus_dataset_is_one_line(tmp_path):
    with pytest.raises(BenchInputError, match=r"^--evalplus-dataset 'nowhere' is neither mbpp\+, humaneval\+ nor an "
                                              r"existing file: give a name or the path of an EvalPlus-format"):
        evalplus_dataset("nowhere", tmp_path)
    assert evalplus_dataset("mbpp+", tmp_path) is None and evalplus_dataset("humaneval+", tmp_path) == "humaneval+"


def test_humaneval_plus_without_evalplus_or_offline_is_one_line(pytester):
    result, _ = run_suites(pytester, ["evalplus"], "--evalplus-dataset", "humaneval+")
    assert result.ret != pytest.ExitCode.OK
    output = "\n".join(result.outlines + result.errlines)
    assert "--evalplus-dataset humaneval+" in output and "give --evalplus-dataset FILE" in output
    assert "Traceback" not in output


# --- a real server ------------------------------------------------------------------------------------


def test_both_suites_run_on_a_managed_mlx_lm_server(pytester, expected_cache):
    result, out = run_suites(pytester, ["coding", "evalplus"], "--bench-limit", "2", "--max-tokens", "16")

    assert result.ret == pytest.ExitCode.OK
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) + outcomes.get("xfailed", 0) == 4
    envelopes = read_envelopes(out)
    assert set(envelopes) == {"coding", "evalplus"}
    assert 0.0 <= rows_by_name(envelopes["coding"])["pass@1"]["value"] <= 1.0
    evalplus = rows_by_name(envelopes["evalplus"])
    assert 0.0 <= evalplus["pass@1_plus"]["value"] <= evalplus["pass@1_base"]["value"] <= 1.0
    for suite, envelope in envelopes.items():
        assert envelope["gen_kwargs"] == {"max_gen_toks": 16, "temperature": 0.0}
        assert rows_by_name(envelope)["harness_errors"]["value"] == 0
        for sample in samples_of(out, suite):
            assert sample["reply"] is not None and sample["usage"]["completion_tokens"] <= 16
