"""The reasoning, math-hard and knowledge suites end to end: pytest runs the bench_suites files in
a subprocess against a stub server whose answers we choose (``--mlx-base-url``) or a real managed
mlx_lm.server on the tiny model, and we read the envelopes and sample logs they wrote."""

from __future__ import annotations

import json

import pytest
from support.contract import ROOT, read_envelopes, rows_by_name, samples_of
from support.stub_server import StubServer

from pytest_mlxbench.suites.knowledge import letters
from pytest_mlxbench.suites.knowledge.questions import load_questions
from pytest_mlxbench.suites.math_hard import problems as math_problems
from pytest_mlxbench.suites.reasoning import gsm8k

SUITE_FILES = {"reasoning": "test_reasoning.py", "math-hard": "test_math_hard.py", "knowledge": "test_knowledge.py"}
ALL_LEVELS = ("--math-levels", "1-5")


def by_prompt() -> dict[str, tuple[str, object]]:
    """Every bundled case by the text of its last user message: (suite, case)."""
    cases = {gsm8k.user_turn(p.question): ("reasoning", p) for p in gsm8k.load_problems()}
    cases.update({math_problems.user_turn(p.problem): ("math-hard", p)
                  for p in math_problems.load_problems(levels=frozenset(math_problems.LEVELS))})
    cases.update({letters.prompt(q): ("knowledge", q) for q in load_questions()})
    return cases


CASES = by_prompt()


def case_of(request: dict):
    return CASES[request["messages"][-1]["content"]]


def right_answer(request: dict) -> str:
    """How a model that knows every reference would phrase it."""
    suite, case = case_of(request)
    if suite == "reasoning":
        return f"Working through it step by step gives the total. The answer is {case.target}."
    if suite == "math-hard":
        return (f"Combining the steps, the result is $\\boxed{{{case.answer}}}$.\n"
                f"Final Answer: The final answer is ${case.answer}$. I hope it is correct.")
    return f"The correct option is {case.options[case.answer]}.\nAnswer: {case.answer_letter}"


def wrong_answer(request: dict) -> str:
    """A well-formed answer with a wrong value."""
    suite, case = case_of(request)
    if suite == "reasoning":
        return f"The answer is {int(case.target.replace(',', '')) + 1}."
    if suite == "math-hard":  # no MATH-500 answer is 1/12345
        return "So $\\boxed{\\frac{1}{12345}}$.\nFinal Answer: The final answer is $\\frac{1}{12345}$. I hope it is correct."
    return f"Answer: {case.letters[(case.answer + 1) % len(case.options)]}"


def run_suites(pytester, suites, *args):
    out = pytester.path / "bench-out"
    files = [str(ROOT / "bench_suites" / SUITE_FILES[suite]) for suite in suites]
    result = pytester.runpytest_subprocess(*files, "--bench-out", str(out), "-p", "no:cacheprovider", "-q", *args)
    return result, out


HEADLINES = {"reasoning": "exact_match_strict-match", "math-hard": "accuracy_math_verify", "knowledge": "accuracy_overall"}


def headline(rows: dict, suite: str) -> float:
    return rows[HEADLINES[suite]]["value"]


@pytest.mark.slow  # every shipped case through its judge
def test_every_bundled_reference_is_judged_right_and_a_wrong_value_wrong():
    """Each suite's own judge on every shipped case (the end-to-end runs below take a sample)."""
    from pytest_mlxbench.suites.math_hard.equivalence import AnswerChecker
    from pytest_mlxbench.suites.math_hard.judge import judge as judge_math
    from pytest_mlxbench.suites.reasoning import filters

    checker = AnswerChecker(10.0)
    checker.start()
    try:
        for prompt, (suite, case) in CASES.items():
            request = {"messages": [{"role": "user", "content": prompt}]}
            right, wrong = right_answer(request), wrong_answer(request)
            if suite == "reasoning":
                verdicts = filters.judge(right, case.target, False).passed, filters.judge(wrong, case.target, False).passed
            elif suite == "math-hard":
                verdicts = (judge_math(right, False, case, checker)["passed"],
                            judge_math(wrong, False, case, checker)["passed"])
            else:
                verdicts = letters.judge(right, case)["passed"], letters.judge(wrong, case)["passed"]
            assert verdicts == (True, False), (suite, case.id)
    finally:
        checker.close()
    assert len(CASES) == 1319 + 500 + 1172


@pytest.mark.slow
def test_references_as_answers_score_one_end_to_end(pytester):
    with StubServer(right_answer) as stub:
        result, out = run_suites(pytester, SUITE_FILES, "--mlx-base-url", stub.base_url, *ALL_LEVELS,
                                 "--bench-limit", "40")

    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=3 * 40, deselected=1319 + 500 + 1172 - 3 * 40)
    envelopes = read_envelopes(out)
    for suite in SUITE_FILES:
        rows = rows_by_name(envelopes[suite])
        assert headline(rows, suite) == 1.0, suite
        assert rows["errors"]["value"] == 0
        assert rows["decode"]["decode_tokens_per_second"] > 0 and rows["latency_p50"]["duration_seconds"] > 0
        assert rows["decode"]["duration_seconds"] == pytest.approx(rows[HEADLINES[suite]]["duration_seconds"])
    reasoning = rows_by_name(envelopes["reasoning"])
    assert reasoning["exact_match_flexible-extract"]["value"] == 1.0
    assert reasoning["exact_match_strict-match"]["tags"]["judged"] == "40"
    math = rows_by_name(envelopes["math-hard"])
    assert math["exact_match_minerva"]["value"] == 1.0
    assert {name for name in math if name.startswith("accuracy_level_")} == {f"accuracy_level_{n}" for n in range(1, 6)}
    assert math["accuracy_counting_probability"]["tags"]["subject"] == "Counting & Probability"
    assert rows_by_name(envelopes["knowledge"])["unanswered"]["value"] == 0.0
    first_question = load_questions()[0]
    sample = samples_of(out, "knowledge")[0]
    assert sample["request"]["messages"] == letters.chat_messages(first_question)
    assert sample["reply"] == right_answer(sample["request"])
    assert sample["extracted"] == sample["reference"] == first_question.answer_letter
    assert sample["verdict"]["passed"] is True


@pytest.mark.slow
def test_wrong_values_score_zero_as_wrong_answers_not_failures(pytester):
    with StubServer(wrong_answer) as stub:
        result, out = run_suites(pytester, SUITE_FILES, "--mlx-base-url", stub.base_url, *ALL_LEVELS,
                                 "--bench-limit", "40")

    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(xfailed=3 * 40, deselected=1319 + 500 + 1172 - 3 * 40)
    envelopes = read_envelopes(out)
    kinds = {"reasoning": "wrong_value", "math-hard": "wrong_value", "knowledge": "wrong_choice"}
    for suite, kind in kinds.items():
        rows = rows_by_name(envelopes[suite])
        assert headline(rows, suite) == 0.0, suite
        assert rows[f"failures_{kind}"]["value"] == int(rows["errors"]["tags"]["cases"])
    assert rows_by_name(envelopes["math-hard"])["exact_match_minerva"]["value"] == 0.0
    assert rows_by_name(envelopes["reasoning"])["exact_match_flexible-extract"]["value"] == 0.0
    first = samples_of(out, "reasoning")[0]
    assert first["verdict"]["detail"] == "answered '19', expected '18'" and first["extracted"]["strict-match"] == "19"


def test_a_reply_that_hangs_the_checker_is_a_timeout_and_the_run_goes_on(pytester):
    tower = "Final Answer: The final answer is $9^{9^{9^{9}}}$. I hope it is correct.\n\\boxed{9^{9^{9^{9}}}}"
    with StubServer(lambda request: tower) as stub:
        result, out = run_suites(pytester, ["math-hard"], "--mlx-base-url", stub.base_url, "--bench-limit", "1",
                                 "--math-check-timeout", "1", "-rx")

    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(xfailed=1, deselected=133)
    result.stdout.fnmatch_lines(["*checker_timeout: the answer check took longer than 1 s*"])
    rows = rows_by_name(read_envelopes(out)["math-hard"])
    assert rows["failures_checker_timeout"]["value"] == 1 and rows["exact_match_minerva"]["value"] == 0.0


def test_kinds_for_no_answer_and_truncated_replies(pytester):
    replies = iter([("Hmm, let me count: 1, 2, 3", "length"), "Sorry."] * 3)
    with StubServer(lambda request: next(replies)) as stub:
        result, out = run_suites(pytester, SUITE_FILES, "--mlx-base-url", stub.base_url, "--bench-limit", "2")

    assert result.ret == pytest.ExitCode.OK
    envelopes = read_envelopes(out)
    for suite in ("reasoning", "math-hard"):
        rows = rows_by_name(envelopes[suite])
        assert (rows["failures_truncated"]["value"], rows["failures_no_answer"]["value"]) == (1, 1), suite
    knowledge = rows_by_name(envelopes["knowledge"])
    assert knowledge["unanswered"]["value"] == 1.0 and knowledge["failures_no_answer"]["value"] == 2


def test_a_server_error_fails_its_test_and_is_counted_apart_from_the_answers(pytester):
    statuses = iter([500, "The answer is 3."])
    with StubServer(lambda request: next(statuses)) as stub:
        result, out = run_suites(pytester, ["reasoning"], "--mlx-base-url", stub.base_url, "--bench-limit", "2")

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(failed=1, passed=1, deselected=1317)
    result.stdout.fnmatch_lines(["*request failed (harness error, not a model miss): *500*"])
    envelope = read_envelopes(out)["reasoning"]
    rows = rows_by_name(envelope)
    assert rows["errors"]["value"] == 1 and rows["exact_match_strict-match"]["tags"]["judged"] == "1"
    assert rows["exact_match_strict-match"]["value"] == 1.0  # gsm8k_1 is answered right
    assert any("harness error" in line for line in envelope["errors"])


def test_user_files_keyword_selection_and_per_subject_rows(pytester, tmp_path):
    mmlu = tmp_path / "mmlu"
    mmlu.mkdir()
    (mmlu / "anatomy_test.csv").write_text("Which bone is longest?,femur,ulna,rib,skull,A\nHeart chambers?,2,3,4,5,C\n")
    (mmlu / "virology_test.csv").write_text("Is a virus alive?,yes,no,sometimes,never,B\n")
    gsm = tmp_path / "gsm.jsonl"
    gsm.write_text(json.dumps({"id": "mine", "question": "What is 2 + 2?", "answer": "2 + 2 = 4\n#### 4"}) + "\n")
    answers = {"Which bone": "Answer: A", "Heart": "It has 4.", "virus": "Answer: C", "2 + 2": "The answer is 4."}

    def reply(request):
        text = request["messages"][-1]["content"]
        return next(answer for key, answer in answers.items() if key in text)

    with StubServer(reply) as stub:
        result, out = run_suites(pytester, ["knowledge", "reasoning"], "--mlx-base-url", stub.base_url,
                                 "--knowledge-dataset", str(mmlu), "--reasoning-dataset", str(gsm), "-k", "not virology_0")

    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=3, deselected=1)
    envelopes = read_envelopes(out)
    rows = rows_by_name(envelopes["knowledge"])
    assert rows["accuracy_overall"]["value"] == 1.0 and rows["accuracy_overall"]["tags"]["by_option_text"] == "1"
    assert "accuracy_anatomy" not in rows  # one subject left after -k
    assert rows_by_name(envelopes["reasoning"])["exact_match_strict-match"]["tags"]["source"] == "gsm.jsonl"


@pytest.mark.parametrize(("args", "message"), [
    (["--math-levels", "7"], "--math-levels '7' names an unknown level: MATH levels are 1 to 5"),
    (["--reasoning-dataset", "missing.jsonl"], "--reasoning-dataset * does not exist: give an existing path"),
    (["--knowledge-dataset", "nowhere"], "--knowledge-dataset 'nowhere' is neither arc-challenge, mmlu, mmlu-pro*"),
])
def test_bad_options_are_one_line(pytester, args, message):
    result, _ = run_suites(pytester, SUITE_FILES, *args)
    assert result.ret != pytest.ExitCode.OK
    result.stderr.fnmatch_lines([f"*{message}*"])
    assert "Traceback" not in "\n".join(result.outlines + result.errlines)


def test_a_malformed_row_is_one_collection_error(pytester):
    (pytester.path / "bad.jsonl").write_text('{"problem": "p", "answer": "1", "level": 5}\n{"problem": "q"}\n')
    result, _ = run_suites(pytester, ["math-hard"], "--math-dataset", "bad.jsonl")
    assert result.ret != pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*bad.jsonl:2: no reference answer: give 'answer', or a 'solution'*"])
    assert "Traceback" not in "\n".join(result.outlines)


def test_the_three_suites_run_on_a_managed_mlx_lm_server(pytester):
    result, out = run_suites(pytester, SUITE_FILES, "--bench-limit", "2", "--max-tokens", "8")

    assert result.ret == pytest.ExitCode.OK
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) + outcomes.get("xfailed", 0) == 6
    envelopes = read_envelopes(out)
    assert set(envelopes) == set(SUITE_FILES)
    for suite, envelope in envelopes.items():
        rows = rows_by_name(envelope)
        assert 0.0 <= headline(rows, suite) <= 1.0 and rows["errors"]["value"] == 0
        assert envelope["gen_kwargs"] == {"max_gen_toks": 8, "temperature": 0.0}
        for sample in samples_of(out, suite):
            assert sample["reply"] is not None and sample["usage"]["completion_tokens"] <= 8
