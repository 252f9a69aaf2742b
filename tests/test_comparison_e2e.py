"""The comparison end to end, as users run it: bench_suites on the built-in tiny model and on a
tiny model trained to answer two tool-calling cases right (and two wrong), through real
mlx_lm.servers, then a later run of the trained model compared with that run (--bench-compare)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.contract import ROOT, contract_errors, rows_by_name
from support.overfit import Example, train_tiny_model
from test_tool_calling_suite import SHIPPED, TRAINED_REPLIES, tool_call_text

from pytest_mlxbench.suites.tool_calling.run import chat_request

CASES = "simple_0 or parallel_9 or simple_8 or irrelevance_6"  # the trained model: right, right, wrong, wrong
SMALL_THROUGHPUT = ("--bench-prompt-lengths", "16,64", "--bench-gen-tokens", "8", "--bench-repeats", "10")


@pytest.fixture(scope="module")
def trained_model(tmp_path_factory) -> Path:
    """The tiny model overfit on the tool-calling suite's trained replies (the same cache entry)."""
    examples = []
    for case_id, (calls, _) in TRAINED_REPLIES.items():
        request = chat_request(SHIPPED[case_id], "default_model", {})
        examples.append(Example(request["messages"], tool_call_text(SHIPPED[case_id], calls), request["tools"]))
    return train_tiny_model(examples, tmp_path_factory.mktemp("models") / "trained")


def envelopes(out: Path) -> dict[tuple[str, str], dict]:
    found = {}
    for path in out.glob("*.json"):
        envelope = json.loads(path.read_text())
        assert contract_errors(envelope) == [], path
        found[envelope["suite"], envelope["model"]] = envelope
    return found


@pytest.mark.slow
def test_two_models_through_bench_suites_then_a_later_run_compared_with_them(pytester, tmp_path, trained_model):
    first = tmp_path / "first"
    result = pytester.runpytest_subprocess(
        str(ROOT / "bench_suites"), "-m", "tool-calling or throughput", "-k", f"{CASES} or throughput",
        "--mlx-model", "mlxbench/tiny-llama", "--mlx-model", str(trained_model),
        *SMALL_THROUGHPUT, "--bench-out", str(first), "-p", "no:cacheprovider", "-v")
    assert result.ret == 0, result.stdout.str()[-3000:]
    result.stdout.fnmatch_lines(["*test_tool_call[[]model-trained-simple_0[]] PASSED*",
                                 "*tool-calling pass_rate: trained - tiny-llama = +0.25 ratio *"
                                 "(mcnemar-exact, 4 cases): no detectable difference at 4 cases"])
    written = envelopes(first)
    assert {key for key in written if key[0] != "capability-comparison"} == {
        (suite, model) for suite in ("tool-calling", "throughput") for model in ("mlxbench/tiny-llama", "trained")}
    rows = rows_by_name(written["capability-comparison", "tiny-llama vs trained"])
    assert rows["tool-calling:pass_rate[tiny-llama]"]["value"] == 0.25  # irrelevance_6: no call is right
    assert rows["tool-calling:pass_rate[trained]"]["value"] == 0.5
    pair = rows["tool-calling:pass_rate[trained vs tiny-llama]"]["tags"]
    assert (pair["reference_only"], pair["model_only"], pair["p_value"]) == ("1", "2", "1.0")
    for length in (16, 64):
        decode = rows[f"throughput:decode_{length}[trained vs tiny-llama]"]["tags"]
        assert decode["test"] == "paired-bootstrap" and decode["n"] == "10" and "ci_low" in decode
    [log] = first.glob("*capability-comparison*.samples.jsonl")
    disagreements = {line["case"]: line for line in map(json.loads, log.read_text().splitlines())}
    case = "test_tool_calling.py::test_tool_call[{}]".format
    assert {name: line["model_passed"] for name, line in disagreements.items()} == {
        case("simple_0"): True, case("parallel_9"): True, case("irrelevance_6"): False}
    assert disagreements[case("irrelevance_6")]["model_kind"] == "unexpected_call"
    assert disagreements[case("simple_0")]["reference_kind"] == "no_call"

    later = tmp_path / "later"
    result = pytester.runpytest_subprocess(
        str(ROOT / "bench_suites"), "-m", "tool-calling", "-k", CASES, "--mlx-model", str(trained_model),
        "--bench-out", str(later), "--bench-compare", str(first), "-p", "no:cacheprovider")
    assert result.ret == 0, result.stdout.str()[-3000:]
    [comparison] = [envelope for (suite, _), envelope in envelopes(later).items() if suite == "capability-comparison"]
    stamp = written["tool-calling", "trained"]["timestamp"]
    rows = rows_by_name(comparison)
    same = rows[f"tool-calling:pass_rate[trained @ {stamp} vs trained]"]
    assert same["value"] == 0 and same["tags"]["verdict"] == "no detectable difference at 4 cases"  # deterministic
    assert rows[f"tool-calling:pass_rate[mlxbench/tiny-llama @ {stamp}]"]["tags"]["source"] == str(first)


@pytest.mark.slow
def test_models_served_by_their_own_servers_compare_by_name_and_url(pytester, tmp_path, running_server,
                                                                   variant_model_dir):
    from pytest_mlxbench.backends.server import ManagedServer

    other = ManagedServer(variant_model_dir, tmp_path / "variant.log").start()
    try:
        out = tmp_path / "out"
        result = pytester.runpytest_subprocess(
            str(ROOT / "bench_suites"), "-m", "ttft", "--ttft-requests", "10", "--bench-gen-tokens", "4",
            "--mlx-model", f"tiny={running_server.base_url}", "--mlx-model", f"variant={other.base_url}",
            "--bench-out", str(out), "-p", "no:cacheprovider", "-v")
    finally:
        other.stop()
    assert result.ret == 0, result.stdout.str()[-3000:]
    result.stdout.fnmatch_lines(["*test_ttft[[]model-tiny[]] PASSED*", "*test_ttft[[]model-variant[]] PASSED*"])
    written = envelopes(out)
    assert {key for key in written} == {("ttft", "tiny"), ("ttft", "variant"), ("capability-comparison", "tiny vs variant")}
    assert not (out / "logs").exists()  # no managed server was started
    rows = rows_by_name(written["capability-comparison", "tiny vs variant"])
    pair = rows["ttft:ttft_p50[variant vs tiny]"]["tags"]
    assert pair["test"] == "paired-bootstrap" and pair["n"] == "10" and pair["n_of"] == "requests"


def fake_hub_cache(root: Path, repo_ids: list[str]) -> Path:
    """A Hugging Face cache holding config files of these repos: what mlx_lm.server lists as models."""
    for repo_id in repo_ids:
        repo = root / f"models--{repo_id.replace('/', '--')}"
        snapshot = repo / "snapshots" / ("0" * 40)
        snapshot.mkdir(parents=True)
        (repo / "blobs").mkdir()
        (repo / "refs").mkdir()
        (repo / "refs" / "main").write_text("0" * 40)
        for name in ("config.json", "model.safetensors.index.json", "tokenizer_config.json"):
            (snapshot / name).write_text("{}")
    return root


@pytest.mark.slow
def test_a_model_the_server_does_not_list_is_one_line_when_comparing(pytester, tmp_path, tiny_model_dir, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(fake_hub_cache(tmp_path / "hub", ["org/model-a", "org/model-b"])))
    from pytest_mlxbench.backends.server import ManagedServer

    server = ManagedServer(tiny_model_dir, tmp_path / "server.log").start()
    try:
        pytester.makepyfile(test_listed="""
            import pytest_mlxbench
            pytestmark = pytest_mlxbench.suite("knowledge")

            def test_asks(mlx_endpoint, record_metric):
                record_metric("asked", "count", 1, "count", tags={"model": mlx_endpoint.model})
        """)
        result = pytester.runpytest_subprocess("--mlx-base-url", server.base_url, "--mlx-model", "org/model-a",
                                               "--mlx-model", "org/absent", "--bench-out", str(tmp_path / "out"),
                                               "-p", "no:cacheprovider")
    finally:
        server.stop()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines([f"*--mlx-model org/absent: {server.base_url} does not list it; it lists *org/model-a*"])
