"""Several models in one run: ids per model, --bench-limit per model, one envelope per (suite,
model), per-case outcomes, the capability-comparison envelope and its tests, --bench-compare, and
a model's memory released before the next model loads."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from support.contract import contract_errors, require_extra, rows_by_name

from pytest_mlxbench.suites.comparison import stats

# alpha answers cases 0-29 of 40, beta 0-9 and 35-39, gamma all; beta's requests are 1.5x slower
ANSWERING_SUITE = """
import pytest, pytest_mlxbench
from pytest_mlxbench.measure import request_tags

RIGHT = {"alpha": set(range(30)), "beta": set(range(10)) | set(range(35, 40)), "gamma": set(range(40))}

def bench_summarize(samples):
    right = sum(sample["case"] in RIGHT[sample["model"]] for sample in samples)
    return [pytest_mlxbench.result_row("accuracy", "accuracy", right / len(samples), "ratio")]

@pytest_mlxbench.suite("knowledge")
@pytest.mark.parametrize("case", range(40))
def test_answer(case, mlxbench_model, bench_gen_kwargs, record_sample):
    record_sample({"case": case, "model": mlxbench_model.label})
    if case not in RIGHT[mlxbench_model.label]:
        pytest_mlxbench.wrong_answer("wrong_value", f"case {case}")

@pytest_mlxbench.suite("ttft")
def test_latency(mlxbench_model, record_metric):
    slower = 1.5 if mlxbench_model.label == "beta" else 1.0
    requests = [slower * (40 + (index * 7) % 11) for index in range(12)]
    record_metric("ttft_p50", "ttft", sorted(requests)[6], "ms", tags=request_tags(requests, "p50"))
"""


@pytest.fixture
def models(tiny_model_dir, pytester) -> dict[str, Path]:
    """Three local model directories (copies of the tiny model; these tests never load them)."""
    made = {}
    for name in ("alpha", "beta", "gamma"):
        made[name] = pytester.path / "models" / name
        shutil.copytree(tiny_model_dir, made[name])
    return made


def run(pytester, out: Path, *args: str):
    return pytester.runpytest_subprocess("--bench-out", str(out), "-p", "no:cacheprovider", "-rx", *args)


def written(out: Path) -> dict[tuple[str, str], dict]:
    envelopes = {}
    for path in sorted(out.glob("*.json")):
        envelope = json.loads(path.read_text())
        assert contract_errors(envelope) == [], path
        envelopes[envelope["suite"], envelope["model"]] = envelope
    return envelopes


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_two_models_run_side_by_side_and_their_comparison_is_paired(pytester, models, tmp_path):
    pytester.makepyfile(test_answers=ANSWERING_SUITE)
    out = tmp_path / "out"
    result = run(pytester, out, "--mlx-model", str(models["alpha"]), "--mlx-model", str(models["beta"]), "-v")
    assert result.ret == 0
    result.assert_outcomes(passed=30 + 15 + 2, xfailed=10 + 25)
    result.stdout.fnmatch_lines(["*test_answer[[]model-alpha-0[]] PASSED*", "*test_answer[[]model-beta-39[]] PASSED*",
                                 "*knowledge [[]model-alpha[]]: *", "*capability-comparison: *",
                                 "*knowledge pass_rate: beta - alpha = -0.375 ratio [[]*[]], p = * (mcnemar-exact, 40 cases): worse",
                                 "*ttft ttft_p50: beta - alpha = +* ms *(paired-bootstrap, 12 requests): worse"])
    envelopes = written(out)
    assert set(envelopes) == {("knowledge", "alpha"), ("knowledge", "beta"), ("ttft", "alpha"), ("ttft", "beta"),
                              ("capability-comparison", "alpha vs beta")}

    [cases] = out.glob("*_knowledge_alpha.cases.jsonl")
    outcomes = {line["case"]: line for line in jsonl(cases)}
    assert len(outcomes) == 40 and outcomes["test_answers.py::test_answer[0]"] == {
        "case": "test_answers.py::test_answer[0]", "outcome": "passed"}
    assert outcomes["test_answers.py::test_answer[35]"] == {
        "case": "test_answers.py::test_answer[35]", "outcome": "wrong", "kind": "wrong_value"}
    assert not list(out.glob("*_ttft_*.cases.jsonl"))  # a timing suite's cases are no pass/fail signal

    comparison = envelopes["capability-comparison", "alpha vs beta"]
    rows = rows_by_name(comparison)
    assert rows["knowledge:pass_rate[alpha]"]["value"] == 0.75 and rows["knowledge:pass_rate[beta]"]["value"] == 0.375
    low, high = stats.clopper_pearson(30, 40)
    assert float(rows["knowledge:pass_rate[alpha]"]["tags"]["ci_low"]) == pytest.approx(low)
    assert float(rows["knowledge:pass_rate[alpha]"]["tags"]["ci_high"]) == pytest.approx(high)
    pair = rows["knowledge:pass_rate[beta vs alpha]"]
    assert pair["metric"] == "difference" and pair["value"] == pytest.approx(-0.375)
    expected = stats.paired_proportions(20, 5, 40)  # alpha alone right on 10-29, beta alone on 35-39
    assert pair["tags"].items() >= {"test": "mcnemar-exact", "n": "40", "reference_only": "20", "model_only": "5",
                                    "verdict": "worse", "reference": "alpha", "model": "beta"}.items()
    assert float(pair["tags"]["p_value"]) == pytest.approx(expected.p_value)
    assert float(pair["tags"]["ci_low"]) == pytest.approx(expected.low)
    assert "differs" not in pair["tags"]  # one run: same settings, code and machine
    detectable = rows["knowledge:min_detectable_difference"]
    assert detectable["value"] == pytest.approx(stats.min_detectable_difference(40, 25 / 40))
    assert "with 40 cases a gap below ~" in detectable["tags"]["note"]
    latency = rows["ttft:ttft_p50[beta vs alpha]"]
    assert latency["tags"]["test"] == "paired-bootstrap" and latency["tags"]["verdict"] == "worse"
    assert float(latency["tags"]["ci_low"]) > 0 and latency["tags"]["n"] == "12"

    [disagreements] = out.glob("*capability-comparison*.samples.jsonl")
    lines = jsonl(disagreements)
    assert len(lines) == 25
    assert sum(line["reference_passed"] and not line["model_passed"] for line in lines) == 20
    assert lines[0]["reference"] == "alpha" and lines[0]["model"] == "beta" and lines[0]["model_kind"] in (None, "wrong_value")


def test_ids_carry_the_model_so_k_and_the_limit_work_per_model(pytester, models, tmp_path):
    pytester.makepyfile(test_answers=ANSWERING_SUITE)
    pytester.makeini(f"[pytest]\nmlx_model =\n    {models['alpha']}\n    {models['beta']}\n")  # the ini list
    out = tmp_path / "out"
    result = run(pytester, out, "-k", "model-beta", "--bench-limit", "5", "-v")
    assert result.ret == 0
    result.assert_outcomes(passed=5 + 1)  # beta's first five cases, and its latency test
    assert "model-alpha" not in result.stdout.str()
    assert {key for key in written(out)} == {("knowledge", "beta"), ("ttft", "beta")}  # one model: no comparison


def test_earlier_runs_join_the_comparison_marked_with_what_differs(pytester, models, tmp_path):
    pytester.makepyfile(test_answers=ANSWERING_SUITE)
    first = tmp_path / "first"
    assert run(pytester, first, "--mlx-model", str(models["alpha"]), "--mlx-model", str(models["beta"]),
               "-m", "knowledge").ret == 0
    second = tmp_path / "second"
    result = run(pytester, second, "--mlx-model", str(models["gamma"]), "--max-tokens", "99",
                 "-m", "knowledge", "--bench-compare", str(first))
    assert result.ret == 0
    [comparison] = [envelope for (suite, _), envelope in written(second).items() if suite == "capability-comparison"]
    stamp = next(iter(written(first).values()))["timestamp"]
    assert comparison["model"] == f"gamma vs alpha @ {stamp} vs beta @ {stamp}"
    rows = rows_by_name(comparison)
    earlier = rows[f"knowledge:pass_rate[alpha @ {stamp}]"]
    assert earlier["tags"]["source"] == str(first) and earlier["value"] == 0.75
    assert rows["knowledge:pass_rate[gamma]"]["tags"]["source"] == "this run"
    pair = rows[f"knowledge:pass_rate[beta @ {stamp} vs gamma]"]
    assert pair["tags"]["reference_only"] == "25" and pair["tags"]["model_only"] == "0"  # paired on the same 40 cases
    assert pair["tags"]["differs"] == "gen_kwargs"
    assert any(f"alpha @ {stamp} vs gamma: generation settings differ: gamma {{'max_gen_toks': 99" in error
               for error in comparison["errors"])
    assert f"compared with an earlier run: beta @ {stamp}, from {first}" in comparison["errors"]


def test_bad_model_and_compare_input_is_one_line(pytester, models, tmp_path):
    pytester.makepyfile(test_answers=ANSWERING_SUITE)
    twice = run(pytester, tmp_path / "a", "--mlx-model", str(models["alpha"]), "--mlx-model", str(models["alpha"]))
    assert twice.ret == pytest.ExitCode.USAGE_ERROR
    twice.stderr.fnmatch_lines([f"ERROR: --mlx-model {models['alpha']} is given twice: give each model once"])
    nowhere = run(pytester, tmp_path / "b", "--bench-compare", str(tmp_path / "nowhere"))
    assert nowhere.ret == pytest.ExitCode.USAGE_ERROR
    nowhere.stderr.fnmatch_lines([f"ERROR: --bench-compare {tmp_path / 'nowhere'} does not exist: give an existing path"])
    (tmp_path / "empty").mkdir()
    empty = run(pytester, tmp_path / "c", "--bench-compare", str(tmp_path / "empty"))
    empty.stderr.fnmatch_lines(["ERROR: --bench-compare: no envelope (*.json) in directory *empty; point to a results directory"])
    assert "Traceback" not in twice.stderr.str() + nowhere.stderr.str() + empty.stderr.str()


MEMORY_SUITE = """
import weakref
import psutil, pytest_mlxbench

MODELS, SERVERS = {}, {}

@pytest_mlxbench.suite("throughput")
def test_in_process(mlx_model, mlxbench_model, record_metric):
    import mlx.core as mx
    alive = [label for label, model in MODELS.items() if model() is not None]
    assert not alive, f"{alive} still loaded while {mlxbench_model.label} runs"
    MODELS[mlxbench_model.label] = weakref.ref(mlx_model.model)
    record_metric("active_bytes", "memory", mx.get_active_memory(), "bytes")

@pytest_mlxbench.suite("ttft")
def test_server(mlx_endpoint, mlxbench_model, record_metric):
    running = [label for label, pid in SERVERS.items() if psutil.pid_exists(pid)]
    assert not running, f"the servers of {running} still run while {mlxbench_model.label} runs"
    SERVERS[mlxbench_model.label] = mlx_endpoint.server.process.pid
    record_metric("server_pid", "pid", mlx_endpoint.server.process.pid, "count")
"""


def test_a_model_is_released_before_the_next_one_loads(pytester, tmp_path, variant_model_dir):
    variant = variant_model_dir
    pytester.makepyfile(test_memory=MEMORY_SUITE)
    out = tmp_path / "out"
    result = run(pytester, out, "--mlx-model", "mlxbench/tiny-llama", "--mlx-model", str(variant), "-v")
    assert result.ret == 0, result.stdout.str()[-3000:]
    result.stdout.fnmatch_lines(["*test_in_process[[]model-tiny-llama[]] PASSED*", "*test_server[[]model-tiny-llama[]] PASSED*",
                                 "*test_in_process[[]model-variant[]] PASSED*", "*test_server[[]model-variant[]] PASSED*"])
    envelopes = written(out)
    tiny, other = (rows_by_name(envelopes["throughput", name])["active_bytes"]["value"]
                   for name in ("mlxbench/tiny-llama", "variant"))
    assert 0 < other < 1.5 * tiny  # one model in MLX memory, not two
    for name in ("mlxbench/tiny-llama", "variant"):  # each server stopped within its own model's items
        phases = [snapshot["phase"] for snapshot in envelopes["ttft", name]["memory_snapshots"]]
        assert {"server_ready", "server_stopping"} <= set(phases), phases
    rows = rows_by_name(envelopes["capability-comparison", "tiny-llama vs variant"])
    for label in ("tiny-llama", "variant"):
        assert rows[f"model:load_in_process[{label}]"]["value"] > 0
        assert rows[f"model:load_server[{label}]"]["value"] > 0
        assert rows[f"model:peak_rss[{label}]"]["peak_rss_mb"] > 0


def comparable(envelope: dict) -> dict:
    """What a serial and a pytest-xdist run must agree on: the rows, without time, memory and notes."""
    return sorted((row["name"], row["value"], sorted((key, value) for key, value in row["tags"].items()
                                                        if key not in ("run",)))
                  for row in envelope["results"] if row["metric"] not in ("memory", "load_time"))


def test_pytest_xdist_writes_the_same_comparison_as_a_serial_run(pytester, models, tmp_path):
    require_extra("xdist", "pip install -e '.[dev]'")
    pytester.makepyfile(test_answers=ANSWERING_SUITE)
    both = ("--mlx-model", str(models["alpha"]), "--mlx-model", str(models["beta"]))
    assert run(pytester, tmp_path / "serial", *both).ret == 0
    assert run(pytester, tmp_path / "xdist", *both, "-n", "2").ret == 0
    serial, parallel = written(tmp_path / "serial"), written(tmp_path / "xdist")
    assert set(serial) == set(parallel)
    key = ("capability-comparison", "alpha vs beta")
    assert comparable(parallel[key]) == comparable(serial[key])
    for out in ("serial", "xdist"):
        [cases] = (tmp_path / out).glob("*_knowledge_beta.cases.jsonl")
        assert len(jsonl(cases)) == 40


def test_an_earlier_outcome_file_that_is_broken_is_one_line(pytester, models, tmp_path):
    pytester.makepyfile(test_answers=ANSWERING_SUITE)
    first = tmp_path / "first"
    assert run(pytester, first, "--mlx-model", str(models["alpha"]), "-m", "knowledge").ret == 0
    [cases] = first.glob("*.cases.jsonl")
    cases.write_text("not json\n")
    result = run(pytester, tmp_path / "second", "--mlx-model", str(models["beta"]), "--bench-compare", str(first))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {cases}: not a per-case outcome file (*); remove it or write it again"])
