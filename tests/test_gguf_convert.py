"""Small GGUF files of each supported architecture and weight type, converted and run by mlx-lm,
against the independent float64 forward pass (tests/support/reference_llama.py)."""

from __future__ import annotations

import numpy as np
import pytest
from support.contract import require_extra

require_extra("gguf", "pip install -e '.[dev]'")

from support.gguf_files import tiny_llama_gguf  # noqa: E402
from support.reference_llama import ReferenceLlama  # noqa: E402

from pytest_mlxbench.backends.gguf.cache import ensure_converted  # noqa: E402

TOKENS = [72, 101, 108, 108, 111, 32, 119, 111, 114, 108, 100, 257, 10, 3, 200, 45]


@pytest.mark.parametrize(("arch", "linear_type"), [("llama", "Q8_0"), ("llama", "Q4_0"), ("qwen2", "Q4_1"), ("qwen2", "F16")])
def test_a_converted_model_computes_what_llama_cpp_would(tmp_path, arch, linear_type):
    """Q/K un-permuted for llama and left alone for qwen2, biases carried, every weight type laid out right."""
    import mlx.core as mx
    from mlx_lm import load

    model_file = tiny_llama_gguf(tmp_path / f"{arch}.gguf", arch=arch, linear_type=linear_type)
    model, _ = load(str(ensure_converted(model_file, lambda line: None, metal=False, root=tmp_path / "cache")))
    actual = np.array(model(mx.array(TOKENS)[None])[0], dtype=np.float64)
    expected = ReferenceLlama(model_file).logits(TOKENS)
    assert np.abs(actual - expected).max() < 1e-4 * max(1.0, np.abs(expected).max())
