"""GGML tensor types against the `gguf` package (llama.cpp's own Python reader), the independent
reference: block sizes, the exact repacking of Q4_0/Q4_1/Q8_0 into MLX's layout, and the
dequantization of the K-quants, F16 and BF16."""

from __future__ import annotations

import numpy as np
import pytest
from support.contract import require_extra

gguf = require_extra("gguf", "pip install -e '.[dev]'")

from support.gguf_files import write_gguf, write_raw_gguf  # noqa: E402

from pytest_mlxbench.backends.gguf.quants import (  # noqa: E402
    GGML_TYPES,
    GGML_TYPES_BY_NAME,
    NATIVE_BITS,
    dequantize,
    repack_native,
)
from pytest_mlxbench.backends.gguf.reader import read_gguf  # noqa: E402

SHAPE = (6, 512)


def test_every_ggml_type_has_the_block_size_llama_cpp_uses():
    from gguf.constants import GGML_QUANT_SIZES

    reference = {int(kind): (kind.name, *sizes) for kind, sizes in GGML_QUANT_SIZES.items()}
    assert {type_id: GGML_TYPES[type_id] for type_id in reference} == reference


@pytest.mark.parametrize("type_name", sorted(NATIVE_BITS))
def test_native_types_are_repacked_exactly(tmp_path, type_name):
    """MLX's dequantization of the repacked tensor equals gguf's dequantization of the block bytes,
    and the packed words and scales equal those of MLX's own GGUF reader for these types."""
    import mlx.core as mx

    values = np.random.default_rng(1).standard_normal(SHAPE).astype(np.float32) * 0.05
    path = write_gguf(tmp_path / "t.gguf", "llama", {"a.weight": (values, type_name)})
    info = read_gguf(path).tensors["a.weight"]
    raw = read_gguf(path).tensor_bytes("a.weight")
    weight, scales, biases = repack_native(type_name, raw, info.shape)
    bits = NATIVE_BITS[type_name]
    ours = np.array(mx.dequantize(mx.array(weight), mx.array(scales), mx.array(biases), group_size=32, bits=bits))
    reference = gguf.quants.dequantize(np.array(raw).reshape(SHAPE[0], -1), gguf.GGMLQuantizationType[type_name])
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-7)

    mlx_own = mx.load(str(path))
    assert np.array_equal(weight, np.array(mlx_own["a.weight"]))
    assert np.array_equal(scales, np.array(mlx_own["a.scales"].astype(mx.float32)))
    assert np.array_equal(biases, np.array(mlx_own["a.biases"].astype(mx.float32)))


def _random_blocks(type_name: str, rows: int, seed: int) -> np.ndarray:
    """Random block bytes whose float16 (or bfloat16) fields are finite and moderate (their high byte below 0x3c)."""
    _, block, size = GGML_TYPES_BY_NAME[type_name]
    raw = np.random.default_rng(seed).integers(0, 256, (rows, SHAPE[1] // block, size), dtype=np.uint8)
    half_offsets = {"Q4_K": (0, 2), "Q5_K": (0, 2), "Q6_K": (208,), "F16": (0,), "BF16": (0,)}[type_name]
    for offset in half_offsets:
        raw[:, :, offset + 1] %= 0x3C
    return raw.reshape(rows, -1)


@pytest.mark.parametrize("type_name", ["Q4_K", "Q5_K", "Q6_K", "F16", "BF16"])
def test_other_types_dequantize_like_llama_cpp(tmp_path, type_name):
    raw = _random_blocks(type_name, SHAPE[0], seed=len(type_name))
    path = write_raw_gguf(tmp_path / "t.gguf", "a.weight", raw, type_name)
    gguf_file = read_gguf(path)
    assert gguf_file.tensors["a.weight"].shape == SHAPE
    ours = dequantize(type_name, gguf_file.tensor_bytes("a.weight"), SHAPE).astype(np.float32)
    reference = gguf.quants.dequantize(raw, gguf.GGMLQuantizationType[type_name]).astype(np.float32)
    assert np.isfinite(reference).all() and np.abs(reference).max() > 0
    np.testing.assert_allclose(ours, reference, rtol=1e-6, atol=1e-6 * np.abs(reference).max())
