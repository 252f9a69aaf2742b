"""What a run prints: a -m typo is one line naming the closest suite; pytest-benchmark's header and
table only when asked for; the mlxbench summary says why suite tests were skipped."""

import pytest

from pytest_mlxbench.selection import expression_names

SUITES = """
import pytest, pytest_mlxbench

@pytest_mlxbench.suite("throughput")
def test_speed(benchmark, record_metric):
    benchmark.pedantic(sum, args=([1, 2, 3],), rounds=3, iterations=1)
    record_metric("decode_128", "decode_throughput", 100.0, "tok/s")

@pytest_mlxbench.suite("framework-eval")
@pytest.mark.parametrize("runner", ["smolagents", "langgraph"])
def test_agent(runner, record_sample):
    pytest.skip(f"{runner} is not usable (No module named {runner!r}): pip install 'pytest-mlxbench[frameworks]'")
"""
PLAIN = """
import pytest

@pytest.mark.gpu_only
def test_unregistered_mark():
    pass
"""


@pytest.fixture
def project(pytester, monkeypatch):
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    pytester.makepyfile(test_suites=SUITES, test_plain=PLAIN)
    return pytester


def run(pytester, *args):
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "ignore::pytest.PytestUnknownMarkWarning",
                                         *args)


# ---------------------------------------------------------------- -m


@pytest.mark.parametrize(("expression", "hint"), [
    ("througput", "'througput' is neither a marker nor a suite, so nothing was selected; did you mean 'throughput'?"),
    ("tool_calling", "'tool_calling' is neither a marker nor a suite, so nothing was selected; "
                     "did you mean 'tool-calling'?"),
    ("ttft and gpu", "'gpu' is neither a marker nor a suite, so nothing was selected; suites: throughput, ttft,"),
])
def test_a_mark_expression_naming_nothing_known_is_one_line(project, expression, hint):
    result = run(project, "-m", expression)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    [error] = [line for line in result.errlines if line.strip()]
    assert error.startswith(f"ERROR: -m {expression!r}: {hint}")
    assert "Traceback" not in "\n".join(result.outlines + result.errlines)


@pytest.mark.parametrize(("expression", "outcomes"), [
    ("not slow", {"passed": 2, "skipped": 2}),  # an unknown name that selects everything is no typo
    ("gpu_only", {"passed": 1, "deselected": 3}),  # a marker no one registered, but a test carries
    ("throughput", {"passed": 1, "deselected": 3}),
])
def test_expressions_that_name_something_real_run_as_usual(project, expression, outcomes):
    result = run(project, "-m", expression)
    result.assert_outcomes(**outcomes)


def test_expression_names_leave_out_operators_and_keyword_arguments():
    assert expression_names("tool-calling and not (ttft or slow(reason='x y', n=2)) or code:py[1]") == [
        "tool-calling", "ttft", "slow", "code:py[1]"]


# ---------------------------------------------------------------- pytest-benchmark's output


def test_the_mlxbench_summary_is_the_only_summary_by_default(project):
    result = run(project, "-m", "throughput")
    assert result.ret == pytest.ExitCode.OK
    output = result.stdout.str()
    assert "benchmark: " not in output and "benchmark: 1 tests" not in output and "Name (time in" not in output
    result.stdout.fnmatch_lines(["*= mlxbench =*", "throughput: 1 rows*decode_128 100 tok/s"])


@pytest.mark.parametrize("ask", [["--benchmark-verbose"], ["--benchmark-columns=min,max"], ["PYTEST_ADDOPTS"]])
def test_pytest_benchmark_output_when_asked_for(project, monkeypatch, ask):
    if ask == ["PYTEST_ADDOPTS"]:
        monkeypatch.setenv("PYTEST_ADDOPTS", "--benchmark-sort=mean")
        ask = []
    result = run(project, "-m", "throughput", *ask)
    result.stdout.fnmatch_lines(["benchmark: * (defaults:*", "*Name (time in *", "*test_speed*"])


# ---------------------------------------------------------------- skips


def test_skips_show_their_reason_and_install_command_without_rs(project):
    result = run(project)
    result.assert_outcomes(passed=2, skipped=2)
    result.stdout.fnmatch_lines([
        "*= mlxbench =*",
        "framework-eval: 1 test(s) skipped: smolagents is not usable (No module named 'smolagents'): "
        "pip install 'pytest-mlxbench[frameworks]'",
        "framework-eval: 1 test(s) skipped: langgraph is not usable (No module named 'langgraph'): "
        "pip install 'pytest-mlxbench[frameworks]'",
    ])
    assert "short test summary info" not in result.stdout.str()
