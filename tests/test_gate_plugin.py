"""Thresholds and baselines in a pytest run: each rule a test item, failing CI on a regression."""

import json
import xml.etree.ElementTree as ElementTree

import pytest

SUITE = """
import os, pytest_mlxbench
pytestmark = pytest_mlxbench.suite("throughput")
SCALE = float(os.environ.get("SPEED_SCALE", "1"))

def test_speed(record_metric):
    samples = [value * SCALE for value in (97.0, 100.0, 103.0)]
    record_metric("decode_128", "decode_throughput", samples[1], "tok/s", decode_tokens_per_second=samples[1],
                  tags={"min": min(samples), "max": max(samples), "samples": ",".join(map(str, samples))})
    record_metric("ttft_128", "ttft", 20.0 / SCALE, "ms", first_token_latency_ms=20.0 / SCALE)
"""

RULES = """
[[rule]]
suite = "throughput"
field = "decode_tokens_per_second"
min = 50
max_drop_pct = 10

[[rule]]
suite = "throughput"
name = "ttft_*"
max_rise_pct = 10
"""


@pytest.fixture
def project(pytester, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("SPEED_SCALE", raising=False)
    pytester.makepyfile(test_speed=SUITE)
    pytester.path.joinpath("rules.toml").write_text(RULES)
    return pytester


def record_baseline(pytester):
    result = pytester.runpytest("--bench-out", "baseline", "-p", "no:cacheprovider")
    assert result.ret == 0
    return str(pytester.path / "baseline")


def run_with_rules(pytester, *args):
    return pytester.runpytest("-v", "--bench-thresholds", "rules.toml", "--bench-out", "current", *args)


def test_a_run_against_its_own_baseline_passes_every_rule(project):
    baseline = record_baseline(project)
    result = run_with_rules(project, "--bench-baseline", baseline, "--junitxml", "junit.xml")
    assert result.ret == 0
    result.stdout.fnmatch_lines([
        "rules.toml::rule0[[]throughput-decode_tokens_per_second[]] PASSED*",
        "rules.toml::rule1[[]throughput-value[]] PASSED*",
        "PASS*throughput::decode_128::decode_tokens_per_second::rule0*",
    ])
    cases = ElementTree.parse(project.path / "junit.xml").getroot().iter("testcase")
    assert {(case.get("classname"), case.get("name")) for case in cases} >= {
        ("rules.toml", "rule0[throughput-decode_tokens_per_second]"), ("rules.toml", "rule1[throughput-value]")}


def test_a_20_percent_slowdown_fails_with_a_message_that_says_everything(project, monkeypatch):
    baseline = record_baseline(project)
    monkeypatch.setenv("SPEED_SCALE", "0.8")
    result = run_with_rules(project, "--bench-baseline", baseline)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([
        "rules.toml::rule0[[]throughput-decode_tokens_per_second[]] FAILED*",
        "rules.toml::rule1[[]throughput-value[]] FAILED*",
        "*throughput/decode_128 [[]mlxbench/tiny-llama[]] decode_tokens_per_second: current 80 vs baseline 100 (-20.0%),"
        " limit drop <= 10%; beyond run noise*",
        "*throughput/ttft_128 [[]mlxbench/tiny-llama[]] value: current 25 vs baseline 20 (+25.0%), limit rise <= 10%*",
    ])
    lastfailed = json.loads((project.path / ".pytest_cache/v/cache/lastfailed").read_text())
    assert "rules.toml::rule0[throughput-decode_tokens_per_second]" in lastfailed


def test_absolute_bounds_need_no_baseline(project):
    project.path.joinpath("rules.toml").write_text(
        '[[rule]]\nsuite = "throughput"\nname = "decode_*"\nmin = 150\n')
    result = run_with_rules(project)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*decode_128*value: current 100 is below min 150*"])


def test_rules_from_pyproject(project):
    project.makepyprojecttoml('[[tool.mlxbench.rule]]\nsuite = "throughput"\nname = "decode_*"\nmax = 90\n')
    result = project.runpytest("-v")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["pyproject.toml::rule0[[]throughput-value[]] FAILED*",
                                 "*current 100 is above max 90*"])


def test_minus_m_keeps_only_the_rules_of_selected_suites(project):
    project.path.joinpath("rules.toml").write_text(
        '[[rule]]\nsuite = "throughput"\nmin = 1\n\n[[rule]]\nsuite = "ttft"\nmax = 1000\n')
    result = run_with_rules(project, "-m", "throughput")
    result.assert_outcomes(passed=2, deselected=1)


def test_a_rule_for_a_suite_without_tests_here_is_skipped_with_the_reason(project):
    project.path.joinpath("rules.toml").write_text('[[rule]]\nsuite = "ttft"\nmax = 1000\n')
    result = run_with_rules(project, "-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*suite ttft did not run in this session*"])


def test_the_report_is_written_at_the_end(project):
    result = project.runpytest_subprocess("--bench-report", "report")  # matplotlib: one import per process
    assert result.ret == 0
    page = project.path / "report" / "index.html"
    result.stdout.fnmatch_lines([f"report: {page}"])
    assert "decode_128" in page.read_text()


def assert_usage_error(result, *fragments):
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    output = result.stdout.str() + "\n" + result.stderr.str()
    [line] = [line for line in output.splitlines() if line.startswith("ERROR:")]
    for fragment in fragments:
        assert fragment in line
    assert "Traceback" not in output


@pytest.mark.parametrize(("rules", "fragments"), [
    ('[[rule]\nsuite = "throughput"\n', ["rules.toml: invalid TOML"]),
    ('[[rule]]\nsuite = "throughput"\nmni = 5\n', ["rules.toml", "rule 0", "unknown key 'mni'", "'min'"]),
    ('[[rule]]\nname = "x"\nmin = 5\n', ["rules.toml", "rule 0", "suite"]),
    ('[[rule]]\nsuite = "speed"\nmin = 5\n', ["rules.toml", "rule 0", "'speed'"]),
    ('[[rule]]\nsuite = "throughput"\nmin = "fast"\n', ["rules.toml", "rule 0", "min"]),
    ('[[rule]]\nsuite = "throughput"\nmax_drop_pct = 5\n', ["rules.toml", "rule 0", "--bench-baseline"]),
])
def test_a_bad_rules_file_is_one_line_and_a_usage_error(project, rules, fragments):
    project.path.joinpath("rules.toml").write_text(rules)
    assert_usage_error(run_with_rules(project), *fragments)


def test_a_rule_matching_nothing_measured_fails_naming_file_and_rule(project):
    project.path.joinpath("rules.toml").write_text('[[rule]]\nsuite = "throughput"\nname = "prefill_*"\nmin = 1\n')
    result = run_with_rules(project)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*rules.toml: rule 0 (throughput/prefill_*): matches no measured result*"])


def test_a_baseline_without_this_model_fails_the_relative_rule(project):
    baseline = record_baseline(project)
    for path in (project.path / "baseline").glob("*.json"):
        envelope = json.loads(path.read_text())
        path.write_text(json.dumps({**envelope, "model": "another-model"}))
    result = run_with_rules(project, "--bench-baseline", baseline)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*no baseline for suite 'throughput' with model 'mlxbench/tiny-llama'*"])


def test_a_baseline_that_is_not_an_envelope_is_one_line(project):
    project.path.joinpath("bad.json").write_text('{"hello": 1}')
    assert_usage_error(run_with_rules(project, "--bench-baseline", "bad.json"), "bad.json")


def test_a_report_that_cannot_be_written_is_one_line_and_fails_the_run(project):
    (project.path / "taken").write_text("a file, not a directory")
    result = project.runpytest_subprocess("--bench-report", "taken/report")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["report not written: cannot write the report to *taken/report*"])
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


BROKEN_SUMMARY = """
import pytest_mlxbench
pytestmark = pytest_mlxbench.suite("ttft")

def test_request(record_sample):
    record_sample({"latency_s": 0.5})

def bench_summarize(samples):
    raise KeyError("ttft_ms")
"""

NOTHING_MEASURED = """
import pytest_mlxbench
pytestmark = pytest_mlxbench.suite("ttft")

def test_request(record_metric):
    raise ConnectionError("server went away before the first request")
"""


@pytest.mark.parametrize(("suite", "reason"), [
    (BROKEN_SUMMARY, "the suite's summary failed, so its numbers cannot be judged: *KeyError*ttft_ms*"),
    (NOTHING_MEASURED, "suite ttft ran but measured nothing, so the rule cannot be checked*server went away*"),
])
def test_a_rule_of_a_selected_suite_that_could_not_be_judged_fails_and_never_skips(project, suite, reason):
    project.makepyfile(test_speed=suite)
    project.path.joinpath("rules.toml").write_text('[[rule]]\nsuite = "ttft"\nmax = 1000\n')
    result = run_with_rules(project)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["rules.toml::rule0[[]ttft-value[]] FAILED*", f"*rule 0 (ttft/*): {reason}"])
