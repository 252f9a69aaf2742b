"""The managed server across ranks (--mlx-hosts, --mlx-shard), all on 127.0.0.1: bad input in one
line before anything starts, the remote launch command, replies equal to one process's token for
token, suites end to end, a rank killed mid-suite, and no rank outliving the run."""

import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from support.contract import ROOT, read_envelopes, rows_by_name
from support.processes import (
    WAITING_SUITE,
    BackgroundRun,
    kill_leftovers,
    started_processes,
    stop_with,
    survivors,
)
from support.qwen2_model import build_qwen2_model

from pytest_mlxbench.backends.distributed.hosts import parse_hosts
from pytest_mlxbench.backends.distributed.launch import (
    RANK_WRAPPER,
    RankOutput,
    launcher_command,
)
from pytest_mlxbench.backends.distributed.shards import check_shardable
from pytest_mlxbench.errors import BenchInputError

SUITES = ROOT / "bench_suites"
REMOTE_HOSTS = {"backend": "ring", "envs": ["MLX_METAL_FAST_SYNCH=1"],
                "hosts": [{"ssh": "mac-a.local", "ips": ["10.0.0.1"]}, {"ssh": "mac-b.local", "ips": ["10.0.0.2"]}]}


@pytest.fixture(scope="module")
def qwen2_model(tiny_model_dir, tmp_path_factory) -> Path:
    return build_qwen2_model(tiny_model_dir, tmp_path_factory.mktemp("qwen2") / "tiny-qwen2")


def write_json(path: Path, data) -> Path:
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


# --- --mlx-hosts -----------------------------------------------------------------


def test_the_shorthand_names_local_ranks():
    topology = parse_hosts("127.0.0.1x3", Path.cwd())
    assert topology.ranks == 3 and topology.local and topology.backend == "ring"
    assert topology.rank0_address == "127.0.0.1"
    assert topology.tag("tensor") == "tensor/ring/3:127.0.0.1,127.0.0.1,127.0.0.1"


@pytest.mark.parametrize(("text", "message"), [
    ("127.0.0.1x1", ("--mlx-hosts 127.0.0.1x1: one rank is the ordinary managed server; give 127.0.0.1x2 or more, "
                    "or leave --mlx-hosts out")),
    ("10.0.0.5x2", ("--mlx-hosts 10.0.0.5x2: the IPxN shorthand is for local ranks, give 127.0.0.1x2: other hosts "
                   "need a hostfile (ssh name and IPs per host)")),
    ("nosuchfile.json", ("--mlx-hosts nosuchfile.json: no such hostfile, and not IPxN: give MLX's hostfile (JSON, "
                        "e.g. [{\"ssh\": \"mac-a.local\", \"ips\": [\"10.0.0.1\"]}, {\"ssh\": \"mac-b.local\", "
                        "\"ips\": [\"10.0.0.2\"]}]) or 127.0.0.1x2 for two local ranks")),
])
def test_a_bad_shorthand_is_one_line(text, message, tmp_path):
    with pytest.raises(BenchInputError) as error:
        parse_hosts(text, tmp_path)
    assert str(error.value) == message


@pytest.mark.parametrize(("content", "message"), [
    ('[{"ssh": "a", "ips": ["10.0.0.1"]},', ("is not valid JSON (Expecting value at line 1 column 36): give MLX's "
                                            "hostfile, e.g. ")),
    ([{"ssh": "mac-a.local", "ips": ["10.0.0.1"]}], ": give a list of two or more hosts, e.g. "),
    ({"hosts": [], "ranks": 2}, ": a hostfile object has 'hosts' and optionally 'backend' and 'envs', not 'ranks'"),
    ([{"ips": ["10.0.0.1"]}, {"ssh": "b", "ips": ["10.0.0.2"]}], ": host 0 needs an 'ssh' name"),
    ([{"ssh": "a", "ips": ["10.0.0.1"]}, {"ssh": "b", "ips": ["mac-b"]}], ": host 1 (b): 'mac-b' is not an IP address"),
    ([{"ssh": "a", "ips": ["10.0.0.1"]}, {"ssh": "b"}], ": host 1 (b) has no 'ips': the ring backend connects over IP"),
    ({"backend": "mpi", "hosts": REMOTE_HOSTS["hosts"]}, ": backend 'mpi' is not one of ring, jaccl, jaccl-ring"),
    ({"backend": "jaccl", "hosts": [{"ssh": "127.0.0.1"}, {"ssh": "127.0.0.1"}]},
     ": local ranks talk over the ring backend; jaccl needs RDMA between Macs"),
])
def test_a_hostfile_that_does_not_parse_is_one_line(tmp_path, content, message):
    hostfile = write_json(tmp_path / "hosts.json", content)
    with pytest.raises(BenchInputError) as error:
        parse_hosts(str(hostfile), tmp_path)
    assert str(error.value).startswith(f"--mlx-hosts {hostfile}")
    assert message in str(error.value) and "\n" not in str(error.value)


def test_a_remote_hostfile_builds_the_mlx_launch_command(tmp_path, tiny_model_dir):
    """The command is checked, never run: no ssh in tests."""
    hostfile = write_json(tmp_path / "hosts.json", REMOTE_HOSTS)
    topology = parse_hosts(str(hostfile), tmp_path)
    assert not topology.local and topology.ranks == 2 and topology.envs == ("MLX_METAL_FAST_SYNCH=1",)
    command = launcher_command(topology, tiny_model_dir, 8123, ("--pipeline",), "/opt/venv/bin/python",
                               launcher="/opt/venv/bin/mlx.launch")
    assert command == [
        "/opt/venv/bin/mlx.launch", "--hostfile", str(hostfile), "--backend", "ring",
        "--env", "HF_HUB_OFFLINE=1", "--env", "TOKENIZERS_PARALLELISM=false", "--",
        "bash", "-c", RANK_WRAPPER, "mlxbench-rank",
        "/opt/venv/bin/python", "-m", "mlx_lm", "server", "--model", str(tiny_model_dir),
        "--host", "10.0.0.1", "--port", "8123", "--pipeline",
    ]


def test_each_remote_rank_output_reaches_its_own_log(tmp_path):
    """The rank wrapper run for real (bash, the prefixer), its output split like mlx.launch's stream."""
    fake_rank = [sys.executable, "-c", "import sys; print('loading', flush=True); print('ValueError: boom', file=sys.stderr)"]
    mixed = b""
    for rank in (1, 0):
        ran = subprocess.run(["bash", "-c", RANK_WRAPPER, "mlxbench-rank", *fake_rank], capture_output=True,
                             env={"MLX_RANK": str(rank), "PATH": "/usr/bin:/bin"}, timeout=30, check=True)
        mixed += ran.stdout
    mixed += b"\x1b[33m[WARN] Node with rank 1 exited with code 3 \x1b[0m\n"
    logs = {rank: tmp_path / f"rank{rank}.log" for rank in (0, 1)}
    read, write = os.pipe()
    with open(write, "wb") as stream:
        stream.write(mixed)
    with open(read, "rb") as stream:
        output = RankOutput(stream, logs, tmp_path / "launcher.log").start()
        output.thread.join(10)
    assert logs[0].read_text() == logs[1].read_text() == "loading\nValueError: boom\n"
    assert (tmp_path / "launcher.log").read_text() == "[WARN] Node with rank 1 exited with code 3 \n"
    assert output.ended == {0: None, 1: 3}


# --- the model must split that way ---------------------------------------------------


def test_tensor_parallelism_needs_heads_and_width_that_divide(tiny_model_dir):
    with pytest.raises(BenchInputError) as error:
        check_shardable(tiny_model_dir, 3, "tensor")
    assert str(error.value) == (
        "--mlx-hosts gives 3 ranks, but the model's num_attention_heads (4) does not divide by 3: tensor parallelism "
        "splits attention heads and MLP width evenly; use 2 or 4 ranks, or --mlx-shard pipeline")


def test_pipelining_needs_an_architecture_that_has_it_and_an_index_file(tiny_model_dir, qwen2_model, tmp_path):
    with pytest.raises(BenchInputError) as error:
        check_shardable(tiny_model_dir, 2, "pipeline")
    assert str(error.value).startswith("--mlx-shard pipeline: mlx-lm cannot pipeline the llama architecture")
    without_index = tmp_path / "no-index"
    shutil.copytree(qwen2_model, without_index)
    (without_index / "model.safetensors.index.json").unlink()
    with pytest.raises(BenchInputError) as error:
        check_shardable(without_index, 2, "pipeline")
    assert str(error.value) == (f"--mlx-shard pipeline needs model.safetensors.index.json in {without_index} (each "
                                "rank loads only the files of its layers): convert the model with mlx_lm.convert, "
                                "which writes it")
    with pytest.raises(BenchInputError, match="the model has 2 layers, fewer than the 3 ranks of --mlx-hosts: give at most 2 ranks"):
        check_shardable(qwen2_model, 3, "pipeline")
    check_shardable(qwen2_model, 2, "pipeline")


def test_bad_input_stops_the_run_before_anything_starts(pytester, tiny_model_dir):
    pytester.makepyfile(test_one="def test_one(mlx_endpoint): pass")
    result = pytester.runpytest_subprocess("--mlx-model", str(tiny_model_dir), "--mlx-hosts", "127.0.0.1x3",
                                           "--bench-out", str(pytester.path / "out"))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([("ERROR: --mlx-hosts gives 3 ranks, but the model's num_attention_heads (4) does "
                                 "not divide by 3: *")])
    assert not (pytester.path / "out" / "logs").exists()  # no rank started
    conflicting = pytester.runpytest_subprocess("--mlx-hosts", "127.0.0.1x2", "--mlx-base-url", "http://127.0.0.1:9/v1")
    assert conflicting.ret == pytest.ExitCode.USAGE_ERROR
    conflicting.stderr.fnmatch_lines([("ERROR: --mlx-hosts starts the managed server across hosts and --mlx-base-url "
                                      "uses a server that is already running: give one of them")])


# --- ranks for real -------------------------------------------------------------------


def greedy(base_url: str, prompt: str) -> list[tuple[int, float]]:
    body = json.dumps({"model": "default_model", "messages": [{"role": "user", "content": prompt}], "max_tokens": 40,
                       "temperature": 0.0, "logprobs": True, "top_logprobs": 1}).encode()
    request = urllib.request.Request(f"{base_url}/chat/completions", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        reply = json.loads(response.read())
    return [(token["id"], token["logprob"]) for token in reply["choices"][0]["logprobs"]["content"]]


PROMPTS = ("Tell me about the weather in Paris.", "Please write a function that returns the sum of two numbers.")


@pytest.mark.slow
@pytest.mark.parametrize("shard", ["tensor", "pipeline"])
def test_greedy_replies_equal_one_process_token_for_token(shard, tiny_model_dir, qwen2_model, tmp_path):
    from pytest_mlxbench.backends.distributed.server import DistributedServer
    from pytest_mlxbench.backends.server import ManagedServer

    model = tiny_model_dir if shard == "tensor" else qwen2_model
    single = ManagedServer(model, tmp_path / "single.log").start()
    try:
        expected = [greedy(single.base_url, prompt) for prompt in PROMPTS]
    finally:
        single.stop()
    ranks = DistributedServer(model, tmp_path / "ranks.log", parse_hosts("127.0.0.1x2", tmp_path), shard).start()
    try:
        replies = [greedy(ranks.base_url, prompt) for prompt in PROMPTS]
    finally:
        ranks.stop()
    for reply, wanted in zip(replies, expected):
        assert len(reply) == 40 and [token for token, _ in reply] == [token for token, _ in wanted]
        assert [logprob for _, logprob in reply] == pytest.approx([logprob for _, logprob in wanted], abs=1e-4)


def run_suites(pytester, model, *args):
    out = pytester.path / "out"
    result = pytester.runpytest_subprocess(
        str(SUITES / "test_ttft.py"), str(SUITES / "test_tool_calling.py"), "--rootdir", str(ROOT),
        "-p", "no:cacheprovider", "--bench-out", str(out), "--mlx-model", str(model), "--mlx-hosts", "127.0.0.1x2",
        "--ttft-requests", "2", "--bench-gen-tokens", "8", "--max-tokens", "16", "--bench-limit", "2", *args)
    return result, out


@pytest.mark.slow
@pytest.mark.parametrize("shard", ["tensor", "pipeline"])
def test_ttft_and_tool_calling_run_across_two_local_ranks(pytester, shard, tiny_model_dir, qwen2_model):
    model = tiny_model_dir if shard == "tensor" else qwen2_model
    result, out = run_suites(pytester, model, "--mlx-shard", shard)
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    envelopes = read_envelopes(out)  # valid against the contract
    tag = f"{shard}/ring/2:127.0.0.1,127.0.0.1"
    for suite in ("ttft", "tool-calling"):
        envelope = envelopes[suite]
        assert all(row["tags"]["topology"] == tag for row in envelope["results"])
        assert any(error.startswith(f"topology: 2 ranks, {shard} parallel, ring backend, hosts 127.0.0.1, 127.0.0.1")
                   for error in envelope["errors"])
        phases = [snapshot["phase"] for snapshot in envelope["memory_snapshots"]]
        for rank in ("rank0", "rank1"):
            assert f"{rank}_peak" in phases
            assert (f"{rank}_ready" in phases) == (suite == "ttft")  # started during the first suite,
            assert (f"{rank}_stopping" in phases) == (suite == "tool-calling")  # stopped after the last
        peaks = {snapshot["phase"]: snapshot["rss_gb"] for snapshot in envelope["memory_snapshots"]}
        assert peaks["rank1_peak"] > 0.01 and peaks["rank0_peak"] > 0.01  # each rank holds its share of the model
    assert rows_by_name(envelopes["ttft"])["ttft_p50"]["value"] > 0
    logs = sorted(path.name.rsplit("-", 1)[1] for path in (out / "logs").glob("*-mlx_lm-server-rank*.log"))
    assert logs == ["rank0.log", "rank1.log"]
    [rank0_log] = (out / "logs").glob("*-rank0.log")
    assert "POST /v1/chat/completions" in rank0_log.read_text()  # rank 0 serves HTTP


KILL_RANK1 = """
import json, os, signal
import pytest_mlxbench
pytestmark = pytest_mlxbench.suite("ttft")

def test_measures_then_a_rank_dies(openai_client, mlx_endpoint, record_metric):
    reply = openai_client.chat.completions.create(
        model=mlx_endpoint.model, messages=[{"role": "user", "content": "hi"}], max_tokens=2)
    record_metric("completion_tokens", "tokens", reply.usage.completion_tokens, "count")
    with open("pids.json", "w") as out:
        out.write(json.dumps(mlx_endpoint.server.memory_processes()))
    os.kill(mlx_endpoint.server.memory_processes()["rank1"], signal.SIGKILL)
    openai_client.chat.completions.create(
        model=mlx_endpoint.model, messages=[{"role": "user", "content": "hi"}], max_tokens=2)

def test_needs_the_server(openai_client):
    pass
"""


@pytest.mark.slow
def test_a_rank_killed_mid_suite_is_one_harness_error_and_leaves_no_survivor(pytester, tiny_model_dir):
    pytester.makepyfile(test_rank_dies=KILL_RANK1)
    out = pytester.path / "out"
    result = pytester.runpytest_subprocess("--mlx-model", str(tiny_model_dir), "--mlx-hosts", "127.0.0.1x2",
                                           "--rootdir", str(pytester.path), "--bench-out", str(out),
                                           "-p", "no:cacheprovider")
    processes = started_processes(json.loads((pytester.path / "pids.json").read_text()))
    try:
        assert survivors(processes) == []
    finally:
        kill_leftovers(processes)
    result.assert_outcomes(failed=1, errors=1)
    assert "Traceback" not in result.stdout.str()
    result.stdout.fnmatch_lines([
        "*_ ERROR at setup of test_needs_the_server _*",
        "the managed mlx_lm.server died at test 1 (rank 1 killed by SIGKILL); log: *-mlx_lm-server-rank1.log",
        "*_ test_measures_then_a_rank_dies _*",
        "the managed mlx_lm.server died during this test: rank 1 killed by SIGKILL; log: *-mlx_lm-server-rank1.log",
        "*= mlxbench server =*",
        "the managed mlx_lm.server died during test 1 (*): rank 1 killed by SIGKILL; last log line: *; log: *rank1.log",
    ])
    envelope = read_envelopes(out)["ttft"]
    assert rows_by_name(envelope)["completion_tokens"]["value"] == 2


@pytest.mark.slow
def test_sigterm_to_pytest_leaves_no_rank_running(pytester, tiny_model_dir):
    pytester.makepyfile(test_waits=WAITING_SUITE)
    run = BackgroundRun(pytester.path, "--mlx-model", str(tiny_model_dir), "--mlx-hosts", "127.0.0.1x2",
                        "--bench-out", str(pytester.path / "out"), "-p", "no:cacheprovider",
                        marker=pytester.path / "pids")
    pids = run.wait_for_marker()
    assert set(pids) == {"pytest", "rank0", "rank1"}
    assert stop_with(run, signal.SIGTERM, started_processes(pids)) == pytest.ExitCode.INTERRUPTED
    envelope = read_envelopes(pytester.path / "out")["ttft"]
    assert "run interrupted (SIGTERM): results cover what was measured before" in envelope["errors"]


@pytest.mark.slow
def test_the_mlx_launch_path_runs_on_this_machine(tiny_model_dir, tmp_path, monkeypatch):
    """The path of remote hosts, run where no ssh is needed: mlx.launch starts 127.0.0.1 hosts
    itself. Only the plugin's choice of that path is forced; the launcher, the rank wrapper, the
    split logs, readiness, a rank's death and the group stop are real."""
    from pytest_mlxbench.backends.distributed import hosts
    from pytest_mlxbench.backends.distributed.server import DistributedServer

    hostfile = write_json(tmp_path / "hosts.json", [{"ssh": "127.0.0.1", "ips": ["127.0.0.1"]}] * 2)
    monkeypatch.setattr(hosts.Host, "is_local", property(lambda host: False))
    server = DistributedServer(tiny_model_dir, tmp_path / "logs" / "run-mlx_lm-server.log",
                               parse_hosts(str(hostfile), tmp_path))
    server.start()
    try:
        ranks = server.memory_processes()
        processes = started_processes({"launcher": server.process.pid, **ranks})
        assert set(ranks) == {"rank0", "rank1"}
        assert len(greedy(server.base_url, PROMPTS[0])) == 40
        os.kill(ranks["rank1"], signal.SIGKILL)
        death = server.death(wait_s=10)
        assert death is not None and death.how.startswith("rank 1 ") and death.log.name.endswith("rank1.log")
    finally:
        server.stop()
    try:
        assert survivors(processes) == []
    finally:
        kill_leftovers(processes)
    rank0_log = (tmp_path / "logs" / "run-mlx_lm-server-rank0.log").read_text()
    assert "Starting httpd at 127.0.0.1" in rank0_log and "[rank" not in rank0_log
    assert "POST /v1/chat/completions" in rank0_log
