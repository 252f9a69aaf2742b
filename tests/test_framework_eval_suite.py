"""The framework-eval suite end to end: pytest runs bench_suites/test_framework_eval.py in a subprocess
against a real mlx_lm.server serving a tiny model overfit on one successful order-status run, and we
read what it wrote (terminal, envelope, sample log). Plus the suite's pure failure-kind rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.agent_training import SEED, order_status_answer, order_status_examples
from support.contract import read_envelopes
from support.overfit import train_tiny_model

from pytest_mlxbench.backends.server import ManagedServer
from pytest_mlxbench.suites.framework_eval.fixture_data import make_fixture_data
from pytest_mlxbench.suites.framework_eval.frameworks import ADAPTERS, INSTALL_COMMAND
from pytest_mlxbench.suites.framework_eval.harness import masked
from pytest_mlxbench.suites.framework_eval.scoring import score
from pytest_mlxbench.suites.framework_eval.tasks import (
    NO_TOOL_ARITHMETIC,
    ORDER_STATUS,
    TASK_IDS,
    task_by_id,
)
from pytest_mlxbench.suites.framework_eval.transcript import ToolCallRecord, Transcript

ROOT = Path(__file__).resolve().parents[1]
SUITE_FILE = ROOT / "bench_suites" / "test_framework_eval.py"
SECRET = "sk-mlxbench-e2e-secret-3141"  # mlx_lm.server ignores keys; it must appear in no output
MISS_KINDS = {"framework_error", "step_limit", "empty_answer", "missing_tool_call", "unneeded_tool_call",
              "wrong_answer"}

# Test doubles of two faults the real frameworks cannot be made to show on demand. They shadow the
# real packages through PYTHONPATH in the suite's subprocess only.
MISSING_INSTALL_DOUBLE = '''"""Test double of a missing install: importing smolagents fails as if it were not
installed."""
raise ImportError("test double of a missing install: smolagents is not installed")
'''
CRASHING_FRAMEWORK_DOUBLE = '''"""FakeCrashingFramework: stands in for openai-agents (the `agents` package) and
raises inside its own code, as a framework bug would, while the server works."""


class OpenAIChatCompletionsModel:
    pass


class FunctionTool:
    pass


def set_tracing_disabled(disabled):
    raise RuntimeError("FakeCrashingFramework: internal error inside the framework")
'''





@pytest.fixture(scope="module")
def fixture_data(tmp_path_factory):
    """The facts the suite's own fixture holds for --seed SEED (the data depends on the seed only)."""
    return make_fixture_data(tmp_path_factory.mktemp("expected-fixture"), seed=SEED)


@pytest.fixture(scope="module")
def agent_server(tmp_path_factory, fixture_data):
    """A real mlx_lm.server on the tiny model trained to solve order-status in two steps."""
    task = task_by_id(fixture_data, ORDER_STATUS)
    model_dir = train_tiny_model(order_status_examples(task, fixture_data), tmp_path_factory.mktemp("agent-model"))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("HF_HUB_OFFLINE", "1")
        env.setenv("HF_HUB_CACHE", str(tmp_path_factory.mktemp("hf-hub-cache")))
        server = ManagedServer(model_dir, tmp_path_factory.mktemp("agent-server") / "server.log").start()
    yield server
    server.stop()


def run_suite(pytester, base_url: str, *args):
    out = pytester.path / "bench-out"
    result = pytester.runpytest_subprocess(
        str(SUITE_FILE), "--bench-out", str(out), "-p", "no:cacheprovider", "-v", "-rsx",
        "--mlx-base-url", base_url, "--mlx-api-key", SECRET, "--seed", str(SEED), "--max-tokens", "64", *args,
    )
    return result, out


def read_samples(out: Path) -> dict[str, dict]:
    [log] = out.glob("*.samples.jsonl")
    samples = [json.loads(line) for line in log.read_text().splitlines()]
    return {f"{sample['runner']}-{sample['task_id']}": sample for sample in samples}


def rows_by_key(envelope: dict) -> dict[tuple[str, str], dict]:
    return {(row["name"], row["metric"]): row for row in envelope["results"]}


def assert_secret_never_written(result, out: Path):
    assert SECRET not in "\n".join(result.outlines + result.errlines)
    for path in out.rglob("*"):
        if path.is_file():
            assert SECRET not in path.read_text(errors="replace"), path


# --- the real suite on a trained model ---------------------------------------------------


@pytest.mark.slow
def test_every_runner_reaches_a_verdict_and_the_baseline_solves_the_trained_task(pytester, agent_server,
                                                                                  fixture_data):
    result, out = run_suite(pytester, agent_server.base_url)

    installed = ["baseline", *[adapter.name for adapter in ADAPTERS if adapter.available()[0]]]
    assert len(installed) >= 2, "the dev install has the frameworks extra: at least one framework must run"
    assert result.ret == pytest.ExitCode.OK
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) + outcomes.get("xfailed", 0) == len(installed) * len(TASK_IDS)
    assert not {"failed", "error", "errors"} & set(outcomes)
    result.stdout.fnmatch_lines(["*test_agent_task[[]baseline-order-status[]] PASSED*"])

    envelope = read_envelopes(out)["framework-eval"]
    assert (envelope["seed"], envelope["gen_kwargs"]) == (SEED, {"max_gen_toks": 64, "temperature": 0.0})
    rows = rows_by_key(envelope)
    baseline = rows[("baseline/order-status", "score")]
    assert baseline["value"] == 1.0 and baseline["tags"]["outcome"] == "passed"
    assert rows[("baseline/order-status", "tool_calls")]["value"] == 1
    assert rows[("baseline/order-status", "steps")]["value"] == 2
    assert rows[("baseline/order-status", "latency")]["duration_seconds"] > 0
    assert rows[("baseline/order-status", "completion_tokens")]["value"] > 0
    for runner in installed:
        task_scores = [rows[(f"{runner}/{task_id}", "score")]["value"] for task_id in TASK_IDS]
        assert set(task_scores) <= {0.0, 1.0}
        assert rows[(runner, "score")]["value"] == pytest.approx(sum(task_scores) / len(TASK_IDS))
        assert rows[(runner, "score")]["tags"]["framework"] == runner
        assert rows[(runner, "score")]["tags"]["framework_version"] not in ("", "not installed")
    frameworks_solving = [runner for runner in installed[1:] if rows[(f"{runner}/order-status", "score")]["value"]]
    assert frameworks_solving, "no framework solved the trained task: did the requests they send change?"

    samples = read_samples(out)
    assert len(samples) == len(installed) * len(TASK_IDS)
    for sample in samples.values():
        assert sample["transcript"]["messages"] and sample["harness_error"] is None
        assert sample["kind"] is None if sample["score"] == 1.0 else sample["kind"] in MISS_KINDS
    solved = samples["baseline-order-status"]["transcript"]
    assert [(call["name"], call["arguments"]) for call in solved["tool_calls"]] == [
        ("get_order_status", {"order_id": fixture_data.order_id})]
    assert fixture_data.order_status in solved["tool_calls"][0]["result"]  # read from the --seed data
    assert solved["final_answer"] == order_status_answer(fixture_data)
    assert_secret_never_written(result, out)


@pytest.mark.slow
def test_a_missing_framework_is_skipped_and_a_crashing_one_is_a_framework_error(pytester, agent_server,
                                                                               tmp_path, monkeypatch):
    doubles = tmp_path / "framework-doubles"
    for package, source in (("smolagents", MISSING_INSTALL_DOUBLE), ("agents", CRASHING_FRAMEWORK_DOUBLE)):
        (doubles / package).mkdir(parents=True)
        (doubles / package / "__init__.py").write_text(source)
    monkeypatch.setenv("PYTHONPATH", str(doubles))
    result, out = run_suite(pytester, agent_server.base_url,
                            "-k", "order-status and (baseline or smolagents or openai-agents)")

    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=1, skipped=1, xfailed=1, deselected=12)
    result.stdout.fnmatch_lines_random([
        "SKIPPED * smolagents is not usable (cannot import smolagents: ImportError): "
        + INSTALL_COMMAND.replace("[", "[[]"),  # fnmatch reads [...] as a character class
        "XFAIL *[[]openai-agents-order-status[]] - framework_error: run failed: RuntimeError: "
        "FakeCrashingFramework: internal error inside the framework",
    ])
    rows = rows_by_key(read_envelopes(out)["framework-eval"])
    assert rows[("openai-agents/order-status", "score")]["value"] == 0.0
    assert rows[("openai-agents/order-status", "score")]["tags"]["outcome"] == "framework_error"
    assert not [key for key in rows if key[0].startswith("smolagents")]
    samples = read_samples(out)
    assert set(samples) == {"baseline-order-status", "openai-agents-order-status"}
    assert "FakeCrashingFramework" in samples["openai-agents-order-status"]["transcript"]["error"]


@pytest.mark.slow
def test_a_server_that_does_not_answer_is_a_harness_failure_not_a_score(pytester, agent_server):
    wrong_path = agent_server.base_url.removesuffix("/v1") + "/no-such-api"  # the real server answers 404
    result, out = run_suite(pytester, wrong_path, "-k", "order-status and (baseline or langgraph)")

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(failed=2, deselected=13)
    result.stdout.fnmatch_lines_random([
        "harness error, not a baseline miss: the server does not answer chat requests: the server answered HTTP 404: *",
        "harness error, not a langgraph miss: the server does not answer chat requests: the server answered HTTP 404: *",
    ])
    envelope = read_envelopes(out)["framework-eval"]
    assert envelope["results"] == [] and envelope.get("skipped") is True
    assert sum("harness error" in error for error in envelope["errors"]) == 2
    samples = read_samples(out)
    assert {sample["score"] for sample in samples.values()} == {None}
    assert all("HTTP 404" in sample["harness_error"] for sample in samples.values())
    assert_secret_never_written(result, out)


# --- the suite's failure kinds and key masking (pure) -------------------------------------------


@pytest.fixture
def tasks(tmp_path):
    fixture = make_fixture_data(tmp_path, seed=SEED)
    return fixture, task_by_id(fixture, ORDER_STATUS), task_by_id(fixture, NO_TOOL_ARITHMETIC)


def transcript(answer: str = "", calls: tuple[tuple[str, dict], ...] = (), **fields) -> Transcript:
    records = [ToolCallRecord(name, arguments, "{}") for name, arguments in calls]
    return Transcript(runner="langgraph", task_id="t", final_answer=answer, tool_calls=records, **fields)


def test_miss_kinds_follow_the_scoring_rules(tasks):
    fixture, order, no_tool = tasks
    right_call = (("get_order_status", {"order_id": fixture.order_id}),)
    wrong_call = (("get_order_status", {"order_id": "ORD-00000"}),)
    cases = {
        "framework_error": (order, transcript(error="KeyError: 'choices'", calls=right_call)),
        "step_limit": (order, transcript(hit_step_limit=True, calls=right_call)),
        "empty_answer": (order, transcript("  \n", calls=right_call)),
        "missing_tool_call": (order, transcript(f"It is {fixture.order_status}.", calls=wrong_call)),
        "unneeded_tool_call": (no_tool, transcript(str(fixture.addend_a + fixture.addend_b), calls=right_call)),
        "wrong_answer": (order, transcript("It is SHIPPED-ZZZZZZ.", calls=right_call)),
    }
    assert {kind: score(task, run).kind for kind, (task, run) in cases.items()} == {k: k for k in cases}


def test_the_api_key_is_masked_anywhere_in_a_sample():
    sample = {"transcript": {"error": 'APIError: bad key "sk-x\\1"', "messages": [{"content": 'key sk-x\\1'}]}}
    result = masked(sample, 'sk-x\\1')
    assert 'sk-x\\1' not in json.dumps(result) and "sk-x" not in json.dumps(result)
    assert result["transcript"]["messages"][0]["content"] == "key ***"
    assert masked({"a": "nothing here"}, "sk-x") == {"a": "nothing here"}
