"""Options, ini keys, suite markers, the collection check, --bench-limit, and bad input."""

import json

import pytest

from pytest_mlxbench.envelope import suite_names

SUITE_FILE = """
import pytest, pytest_mlxbench
pytestmark = pytest_mlxbench.suite("{suite}")

@pytest.mark.parametrize("case", range({cases}))
def test_case(case, record_metric):
    record_metric(f"case{{case}}", "score", 1.0, "ratio")
"""

SHOW_SETTINGS = """
import pytest_mlxbench

def test_show(pytestconfig):
    settings = pytest_mlxbench.get_settings(pytestconfig)
    print("SETTINGS", settings.limit, settings.max_tokens, settings.temperature, settings.seed,
          settings.prompt_lengths, settings.out_dir.name, settings.ci.trigger)
"""


@pytest.fixture(autouse=True)
def local_environment(monkeypatch):
    """Outside CI, so trigger detection has nothing to find unless a test sets it."""
    for name in ("CI", "GITHUB_ACTIONS", "GITLAB_CI", "MLXBENCH_API_KEY"):
        monkeypatch.delenv(name, raising=False)


def assert_one_line_error(result, *fragments):
    assert result.ret != 0
    output = result.stdout.str() + "\n" + result.stderr.str()
    assert "Traceback" not in output
    errors = [line for line in output.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1, output
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


def test_every_schema_suite_is_a_registered_marker(pytester):
    result = pytester.runpytest("--markers")
    for name in suite_names():
        result.stdout.fnmatch_lines([f"@pytest.mark.{name}: benchmark suite*"])


def test_minus_m_selects_suites_by_their_hyphenated_names(pytester):
    pytester.makepyfile(test_tools=SUITE_FILE.format(suite="tool-calling", cases=2),
                        test_speed=SUITE_FILE.format(suite="throughput", cases=3))
    result = pytester.runpytest("-m", "tool-calling", "--strict-markers", "-q")
    result.assert_outcomes(passed=2, deselected=3)


def test_a_bench_test_without_suite_marker_is_a_collection_error(pytester):
    pytester.makepyfile(test_bench="""
        import pytest_mlxbench

        @pytest_mlxbench.suite("throughput")
        def test_marked(record_metric):
            record_metric("a", "m", 1.0, "u")

        def test_unmarked():
            pass
    """)
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*ERROR collecting test_bench.py*",
                                 "*test_bench.py::test_unmarked: a benchmark test needs one suite marker*"])


def test_a_test_using_record_metric_needs_a_suite_marker(pytester):
    pytester.makepyfile(test_bench="""
        def test_records(record_metric):
            record_metric("a", "m", 1.0, "u")
    """)
    result = pytester.runpytest()
    result.stdout.fnmatch_lines(["*test_records: a benchmark test needs one suite marker*"])
    assert result.ret != 0


def test_a_test_with_two_suite_markers_is_a_collection_error(pytester):
    pytester.makepyfile(test_bench="""
        import pytest, pytest_mlxbench

        @pytest_mlxbench.suite("ttft")
        @pytest_mlxbench.suite("throughput")
        def test_both():
            pass
    """)
    result = pytester.runpytest()
    result.stdout.fnmatch_lines(["*test_both: a benchmark test belongs to one suite, it is marked*"])
    assert result.ret == pytest.ExitCode.INTERRUPTED


def test_ordinary_test_files_are_left_alone(pytester):
    pytester.makepyfile(test_plain="def test_plain():\n    assert True\n")
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    assert not (pytester.path / "bench-results").exists()


def test_bench_limit_caps_cases_per_suite(pytester):
    pytester.makepyfile(test_a=SUITE_FILE.format(suite="tool-calling", cases=5),
                        test_b=SUITE_FILE.format(suite="code-accuracy", cases=4))
    result = pytester.runpytest("--bench-limit", "2", "-q")
    result.assert_outcomes(passed=4, deselected=5)


def test_ini_keys_set_every_option_and_the_command_line_wins(pytester):
    pytester.makepyprojecttoml("""
        [tool.pytest.ini_options]
        bench_limit = "7"
        max_tokens = "64"
        temperature = "0.5"
        seed = "11"
        bench_prompt_lengths = "16, 32"
        bench_out = "from-ini"
        bench_trigger = "schedule"
    """)
    pytester.makepyfile(test_show=SHOW_SETTINGS)
    result = pytester.runpytest("-s", "--seed", "3")
    result.stdout.fnmatch_lines(["*SETTINGS 7 64 0.5 3 (16, 32) from-ini schedule"])


def test_defaults(pytester, tiny_model_dir):
    pytester.makepyfile(test_show=SHOW_SETTINGS)
    result = pytester.runpytest("-s", "--mlx-model", str(tiny_model_dir))
    result.stdout.fnmatch_lines(["*SETTINGS None 512 0.0 0 (128, 512, 2048) bench-results local"])


def test_the_builtin_tiny_model_gets_short_settings_and_says_so(pytester):
    pytester.makepyfile(test_show=SHOW_SETTINGS + """
import pytest_mlxbench
pytestmark = pytest_mlxbench.suite("ttft")

def test_records(record_metric):
    record_metric("x", "latency", 1.0, "seconds")
""")
    result = pytester.runpytest("-s", "--bench-limit", "3")
    result.stdout.fnmatch_lines(["*SETTINGS 3 32 0.0 0 (128, 512) bench-results local",
                                 "*note: the built-in tiny model (random weights) checks the set-up*"
                                 "--max-tokens 32, --load-concurrency 1,4, --load-prompt-tokens 32, --load-output-tokens 16, "
                                 "--bench-prompt-lengths 128,512, --bench-gen-tokens 32*"])
    [envelope] = [json.loads(path.read_text()) for path in (pytester.path / "bench-results").glob("*.json")]
    assert any("--max-tokens 32" in error and "--bench-limit" not in error for error in envelope["errors"])


@pytest.mark.parametrize(("args", "fragments"), [
    (["--mlx-model", "/no/such/model-dir"], ["--mlx-model /no/such/model-dir", "no such directory"]),
    (["--bench-trigger", "nightly"], ["--bench-trigger 'nightly'", "local, pr, schedule, workflow_dispatch"]),
    (["--bench-limit", "many"], ["--bench-limit 'many' is not a whole number"]),
    (["--bench-limit", "0"], ["--bench-limit 0 is too small"]),
    (["--temperature", "hot"], ["--temperature 'hot' is not a number"]),
    (["--bench-prompt-lengths", "128,x"], ["--bench-prompt-lengths", "comma-separated"]),
    (["--mlx-base-url", "localhost:8080"], ["is not an http(s) URL"]),
    (["--code-samples", "5"], ["--code-samples 5 needs --temperature above 0"]),
    (["--tool-answers", "answers.json"], ["--tool-answers", "does not exist"]),
    (["--code-dataset", "missing.jsonl"], ["--code-dataset 'missing.jsonl'", "'humaneval'"]),
])
def test_bad_input_is_one_clear_line_and_a_non_zero_exit(pytester, args, fragments):
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    assert_one_line_error(pytester.runpytest(*args), *fragments)


def test_a_directory_that_is_not_a_model(pytester):
    (pytester.path / "not-a-model").mkdir()
    (pytester.path / "not-a-model" / "README.md").write_text("hello")
    result = pytester.runpytest("--mlx-model", "not-a-model")
    assert_one_line_error(result, "is not an mlx-lm model directory", "missing config.json and *.safetensors")


def test_an_unreachable_base_url(pytester):
    from pytest_mlxbench.backends.server import free_port

    pytester.makepyfile(test_server="""
        import pytest_mlxbench
        pytestmark = pytest_mlxbench.suite("ttft")

        def test_needs_server(openai_client):
            pass
    """)
    url = f"http://127.0.0.1:{free_port()}/v1"
    result = pytester.runpytest("--mlx-base-url", url)
    assert_one_line_error(result, f"--mlx-base-url {url} is unreachable", "start the server or fix the URL")


def test_a_hub_id_that_cannot_be_fetched(pytester, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    pytester.makepyfile(test_model="""
        import pytest_mlxbench
        pytestmark = pytest_mlxbench.suite("throughput")

        def test_needs_model(mlx_model):
            pass
    """)
    result = pytester.runpytest("--mlx-model", "mlx-community/no-such-model-4bit")
    assert_one_line_error(result, "mlx-community/no-such-model-4bit: cannot get it from the Hugging Face hub")


def test_bad_suite_input_found_while_making_cases_is_one_line(pytester):
    pytester.makepyfile(test_cases="""
        import pytest_mlxbench
        from pytest_mlxbench.errors import BenchInputError
        pytestmark = pytest_mlxbench.suite("tool-calling")

        def pytest_generate_tests(metafunc):
            raise BenchInputError("cases.json line 3: not JSON; fix the line")

        def test_case(case):
            pass
    """)
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*ERROR collecting test_cases.py*", "cases.json line 3: not JSON; fix the line"])
    assert "Traceback" not in result.stdout.str() and "raise BenchInputError" not in result.stdout.str()
