"""From record_metric to the envelope on disk: building, validation, errors, interruption, names."""

import json
import subprocess

import pytest
from support.contract import contract_errors, read_envelopes, rows_by_name

from pytest_mlxbench.gitinfo import blob_sha


@pytest.fixture(autouse=True)
def local_environment(monkeypatch):
    for name in ("CI", "GITHUB_ACTIONS", "GITLAB_CI"):
        monkeypatch.delenv(name, raising=False)


def out_dir(pytester):
    return pytester.path / "bench-results"


TWO_SUITES = """
import pytest, pytest_mlxbench

@pytest_mlxbench.suite("throughput")
def test_speed(record_metric, record_gen_kwargs):
    record_gen_kwargs(max_gen_toks=64, temperature=0.0)
    record_metric("decode_128", "decode_throughput", 812.5, "tok/s", decode_tokens_per_second=812.5,
                  duration_seconds=0.2, tags={"repeats": 3, "prompt_tokens": 128})

@pytest_mlxbench.suite("ttft")
def test_latency(record_metric, bench_gen_kwargs):
    assert bench_gen_kwargs == {"max_tokens": 32, "temperature": 0.0, "seed": 0}
    record_metric("ttft_p50", "ttft", 31.0, "ms", first_token_latency_ms=31.0)
"""


def test_one_valid_envelope_per_suite_with_the_recorded_rows(pytester):
    pytester.makepyfile(test_suites=TWO_SUITES)
    result = pytester.runpytest()
    result.assert_outcomes(passed=2)
    envelopes = read_envelopes(out_dir(pytester))
    assert set(envelopes) == {"throughput", "ttft"}
    speed = envelopes["throughput"]
    row = rows_by_name(speed)["decode_128"]
    assert row["value"] == 812.5 and row["decode_tokens_per_second"] == 812.5
    assert row["tags"] == {"repeats": "3", "prompt_tokens": "128"}
    assert speed["gen_kwargs"] == {"max_gen_toks": 64, "temperature": 0.0}
    assert envelopes["ttft"]["gen_kwargs"] == {"max_gen_toks": 32, "temperature": 0.0}
    assert speed["trigger"] == "local" and speed["pr_number"] is None and speed["seed"] == 0
    assert speed["model"] == "mlxbench/tiny-llama"
    assert {"os", "chip", "memory_gb", "python_version", "mlx_version", "mlx_lm_version", "kernel"} <= set(speed["system"])
    phases = [snapshot["phase"] for snapshot in speed["memory_snapshots"]]
    assert phases == ["start", "end", "peak"]  # of the pytest process, over this suite's tests only
    result.stdout.fnmatch_lines(["*mlxbench*", "throughput: 1 rows*decode_128 812.5 tok/s*", "*envelope: *throughput*.json"])


def test_the_git_sha_is_the_commit_of_the_suite_code(pytester):
    pytester.makepyfile(test_suites=TWO_SUITES)
    for command in (["git", "init", "-q"], ["git", "add", "."],
                    ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "suite"]):
        subprocess.run(command, cwd=pytester.path, check=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=pytester.path, capture_output=True, text=True).stdout.strip()
    pytester.runpytest()
    envelope = read_envelopes(out_dir(pytester))["throughput"]
    assert envelope["git_sha"] == head
    assert not any(error.startswith("git_sha") for error in envelope["errors"])


def test_without_git_the_sha_is_the_suite_file_blob_and_errors_say_so(pytester):
    suite_file = pytester.makepyfile(test_suites=TWO_SUITES)
    pytester.runpytest()
    envelope = read_envelopes(out_dir(pytester))["throughput"]
    assert envelope["git_sha"] == blob_sha(suite_file.read_bytes())
    assert any("not in a git repository" in error and "blob id of test_suites.py" in error for error in envelope["errors"])


def test_a_failing_test_keeps_what_it_measured_and_its_error(pytester):
    pytester.makepyfile(test_fail="""
        import pytest_mlxbench
        pytestmark = pytest_mlxbench.suite("throughput")

        def test_measures_then_breaks(record_metric):
            record_metric("prefill_128", "prefill_throughput", 1000.0, "tok/s")
            raise RuntimeError("server went away")
    """)
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    envelope = read_envelopes(out_dir(pytester))["throughput"]
    assert rows_by_name(envelope)["prefill_128"]["value"] == 1000.0
    assert any("test_measures_then_breaks: RuntimeError: server went away" in error for error in envelope["errors"])


def test_a_wrong_answer_is_a_measurement_not_a_failure(pytester):
    pytester.makepyfile(test_miss="""
        import pytest, pytest_mlxbench
        pytestmark = pytest_mlxbench.suite("tool-calling")

        @pytest.mark.parametrize("right", [True, False])
        def test_case(right, record_sample):
            record_sample({"right": right})
            if not right:
                pytest_mlxbench.wrong_answer("wrong_value", "asked for 5, got 6")
    """)
    result = pytester.runpytest("-rx")
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=1, xfailed=1)
    result.stdout.fnmatch_lines(["*XFAIL*test_case[[]False[]]*wrong_value: asked for 5, got 6*"])
    envelope = read_envelopes(out_dir(pytester))["tool-calling"]
    assert envelope["errors"] == [e for e in envelope["errors"] if e.startswith(("git_sha", "memory:", "the built-in tiny model"))]


def test_bench_summarize_turns_samples_into_rows_and_the_sample_log_is_written(pytester):
    pytester.makepyfile(test_cases="""
        import pytest, pytest_mlxbench
        pytestmark = pytest_mlxbench.suite("code-accuracy")

        def bench_summarize(samples):
            passed = sum(sample["passed"] for sample in samples)
            return [{"name": "pass@1", "metric": "pass@k", "value": passed / len(samples), "unit": "ratio"}]

        @pytest.mark.parametrize("case", range(4), ids=lambda case: f"c{case}")
        def test_case(case, record_sample):
            record_sample({"case": case, "passed": case != 3})
    """)
    result = pytester.runpytest("-k", "not c0")
    result.assert_outcomes(passed=3)
    envelope = read_envelopes(out_dir(pytester))["code-accuracy"]
    assert rows_by_name(envelope)["pass@1"]["value"] == pytest.approx(2 / 3)
    [samples_log] = out_dir(pytester).glob("*.samples.jsonl")
    assert [json.loads(line)["case"] for line in samples_log.read_text().splitlines()] == [1, 2, 3]
    assert samples_log.name.removesuffix(".samples.jsonl") == next(out_dir(pytester).glob("*.json")).stem
    result.stdout.fnmatch_lines(["*samples: *code-accuracy*.samples.jsonl"])


BROKEN_SUMMARY = """
import pytest_mlxbench
pytestmark = pytest_mlxbench.suite("code-accuracy")

def bench_summarize(samples):
    return {rows}

def test_case(record_sample, record_metric):
    record_sample({{"case": 1}})
    record_metric("latency", "latency", 1.5, "seconds")
"""


@pytest.mark.parametrize("rows, why", [
    ('[{"name": "x", "metric": "m", "value": 1 / 0, "unit": "u"}]', "ZeroDivisionError"),
    ('[{"name": "x", "metric": "m", "value": True, "unit": "u"}]', "not a bool"),
    ('[{"name": "x", "metric": "m", "value": float("nan"), "unit": "u"}]', "not a finite number"),
    ('[{"name": "x", "value": 1.0, "unit": "u"}]', "'metric' is a required property"),
    ('["x"]', "a row must be a dict"),
], ids=["raises", "bool", "nan", "missing-key", "not-a-dict"])
def test_a_broken_summary_fails_the_run_and_the_envelope_keeps_the_error(pytester, rows, why):
    pytester.makepyfile(test_cases=BROKEN_SUMMARY.format(rows=rows))
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    envelope = read_envelopes(out_dir(pytester))["code-accuracy"]
    assert [row["name"] for row in envelope["results"]] == ["latency"] and not envelope.get("skipped")
    assert any("bench_summarize failed (harness error)" in error and why in error for error in envelope["errors"])


def test_summary_rows_are_normalised_like_recorded_rows(pytester):
    pytester.makepyfile(test_cases=BROKEN_SUMMARY.format(
        rows='[{"name": "x", "metric": "m", "value": __import__("numpy").float32(0.5), "unit": "u", '
             '"tags": {"n": 3}}]'))
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.OK
    row = rows_by_name(read_envelopes(out_dir(pytester))["code-accuracy"])["x"]
    assert row["value"] == 0.5 and type(row["value"]) is float and row["tags"] == {"n": "3"}


def test_an_invalid_envelope_fails_the_session_listing_every_error_and_is_kept(pytester):
    pytester.makeconftest("""
        def pytest_mlxbench_update_envelope(envelope):
            envelope["timestamp"] = "yesterday"
            envelope["results"][0]["value"] = "fast"
    """)
    pytester.makepyfile(test_records="""
        import pytest_mlxbench
        pytestmark = pytest_mlxbench.suite("throughput")

        def test_records(record_metric):
            record_metric("decode", "decode_throughput", 10.0, "tok/s")
    """)
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([
        "*INVALID envelope, kept as *.invalid.json*",
        "*$.results[[]0[]].value: 'fast' is not of type 'number'*",
        "*$.timestamp: 'yesterday' is not a 'date-time'*",
    ])
    assert list(out_dir(pytester).glob("*.json")) == list(out_dir(pytester).glob("*.invalid.json"))
    kept = json.loads(next(out_dir(pytester).glob("*.invalid.json")).read_text())
    assert kept["results"][0]["value"] == "fast"


def test_a_conftest_can_add_system_fields(pytester):
    pytester.makeconftest("""
        def pytest_mlxbench_update_system(system):
            system["vllm_mlx_version"] = "0.9.1"
    """)
    pytester.makepyfile(test_suites=TWO_SUITES)
    pytester.runpytest("-k", "speed")
    assert read_envelopes(out_dir(pytester))["throughput"]["system"]["vllm_mlx_version"] == "0.9.1"


@pytest.mark.parametrize(("call", "message"), [
    ('record_metric("a", "m", 1.0, "u", colour="red")', "Additional properties are not allowed ('colour' was unexpected)"),
    ('record_metric("a", "m", "fast", "u")', "$.value: 'fast' is not of type 'number'"),
    ('record_metric("a", "m", True, "u")', "$.value: give a number, not a bool"),
    ('record_metric("a", "m", float("nan"), "u")', "$.value: nan is not a finite number"),
    ('record_metric("a", "m", 1.0, "u", decode_tokens_per_second=-1)', "-1 is less than the minimum of 0"),
    ('record_sample({"obj": object()})', "record numbers, strings, lists and dicts only"),
])
def test_recorders_refuse_what_the_envelope_cannot_hold(pytester, call, message):
    pytester.makepyfile(test_bad=f"""
        import pytest_mlxbench
        pytestmark = pytest_mlxbench.suite("throughput")

        def test_records(record_metric, record_sample):
            {call}
    """)
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    assert message in result.stdout.str()


def test_numpy_numbers_are_recorded_as_plain_numbers(pytester):
    pytester.makepyfile(test_numpy="""
        import numpy, pytest_mlxbench
        pytestmark = pytest_mlxbench.suite("throughput")

        def test_records(record_metric):
            record_metric("decode", "decode_throughput", numpy.float32(2.5), "tok/s", duration_seconds=numpy.int64(3))
    """)
    pytester.runpytest_subprocess().assert_outcomes(passed=1)  # numpy cannot be imported twice in one process
    row = read_envelopes(out_dir(pytester))["throughput"]["results"][0]
    assert (row["value"], row["duration_seconds"]) == (2.5, 3)


def test_ctrl_c_still_writes_what_was_measured(pytester):
    pytester.makepyfile(test_interrupted="""
        import pytest_mlxbench
        pytestmark = pytest_mlxbench.suite("throughput")

        def test_first(record_metric):
            record_metric("prefill_128", "prefill_throughput", 100.0, "tok/s")

        def test_second(record_metric):
            record_metric("prefill_512", "prefill_throughput", 90.0, "tok/s")
            raise KeyboardInterrupt

        def test_never_runs(record_metric):
            record_metric("prefill_2048", "prefill_throughput", 80.0, "tok/s")
    """)
    result = pytester.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.INTERRUPTED
    envelope = read_envelopes(out_dir(pytester))["throughput"]
    assert sorted(rows_by_name(envelope)) == ["prefill_128", "prefill_512"]
    assert any("interrupted (KeyboardInterrupt)" in error for error in envelope["errors"])
    assert any("test_second: interrupted before it finished" in error for error in envelope["errors"])


def test_runs_never_overwrite_each_other(pytester):
    pytester.makepyfile(test_suites=TWO_SUITES)
    for _ in range(3):
        pytester.runpytest("-k", "speed")
    paths = sorted(out_dir(pytester).glob("*throughput*.json"))
    assert len(paths) == 3
    assert all(contract_errors(json.loads(path.read_text())) == [] for path in paths)
    assert not list(out_dir(pytester).glob(".tmp-*"))


def test_a_suite_with_nothing_recorded_writes_no_envelope(pytester):
    pytester.makepyfile(test_skip="""
        import pytest, pytest_mlxbench
        pytestmark = pytest_mlxbench.suite("throughput")

        def test_skipped():
            pytest.skip("no GPU")
    """)
    pytester.runpytest()
    assert not out_dir(pytester).exists()


def test_pr_trigger_and_number_come_from_github_actions(pytester, monkeypatch):
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_EVENT_NAME", "pull_request")
    monkeypatch.setenv("GITHUB_REF", "refs/pull/42/merge")
    monkeypatch.setenv("RUNNER_NAME", "macos-15-arm64")
    pytester.makepyfile(test_suites=TWO_SUITES)
    pytester.runpytest("-k", "speed")
    envelope = read_envelopes(out_dir(pytester))["throughput"]
    assert (envelope["trigger"], envelope["pr_number"], envelope["system"]["runner"]) == ("pr", 42, "macos-15-arm64")
