"""GGML tensor types: their sizes, exact repacking into MLX's quantized layout, dequantization.

Written from the GGML block definitions. Q4_0, Q4_1 and Q8_0 are affine quantizations
with 32-element groups, which MLX represents exactly (4 or 8 bits, group 32): they
are repacked, not re-quantized. Q4_K, Q5_K and Q6_K, BF16 and F16 are turned into
float32 values. Everything is vectorised numpy over the blocks of a tensor.

(MLX's own GGUF reader is not used for tensors: it fails on a whole file when one
tensor has a type it lacks, and mlx 0.32's fallback for Q4_K uses the wrong sub-block
scale for every second 32-element group.)
"""

from __future__ import annotations

import math

# id: (name, elements per block, bytes per block), for every type GGUF files use.
GGML_TYPES = {
    0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20),
    6: ("Q5_0", 32, 22), 7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 40),
    10: ("Q2_K", 256, 84), 11: ("Q3_K", 256, 110), 12: ("Q4_K", 256, 144), 13: ("Q5_K", 256, 176),
    14: ("Q6_K", 256, 210), 15: ("Q8_K", 256, 292), 16: ("IQ2_XXS", 256, 66), 17: ("IQ2_XS", 256, 74),
    18: ("IQ3_XXS", 256, 98), 19: ("IQ1_S", 256, 50), 20: ("IQ4_NL", 32, 18), 21: ("IQ3_S", 256, 110),
    22: ("IQ2_S", 256, 82), 23: ("IQ4_XS", 256, 136), 24: ("I8", 1, 1), 25: ("I16", 1, 2),
    26: ("I32", 1, 4), 27: ("I64", 1, 8), 28: ("F64", 1, 8), 29: ("IQ1_M", 256, 56),
    30: ("BF16", 1, 2), 34: ("TQ1_0", 256, 54), 35: ("TQ2_0", 256, 66), 39: ("MXFP4", 32, 17),
    40: ("NVFP4", 64, 36), 41: ("Q1_0", 128, 18),
}
GROUP_SIZE = 32
NATIVE_BITS = {"Q4_0": 4, "Q4_1": 4, "Q8_0": 8}
FLOAT_TYPES = ("F32", "F16", "BF16")
DEQUANTIZED_TYPES = ("Q4_K", "Q5_K", "Q6_K")
SUPPORTED_TYPES = FLOAT_TYPES + tuple(NATIVE_BITS) + DEQUANTIZED_TYPES


def type_name(ggml_type: int) -> str:
    return GGML_TYPES[ggml_type][0] if ggml_type in GGML_TYPES else f"type {ggml_type}"


def tensor_nbytes(ggml_type: int, shape: tuple[int, ...]) -> int:
    _, block, size = GGML_TYPES[ggml_type]
    return math.prod(shape) // block * size


def repack_native(name: str, raw, shape: tuple[int, ...]):
    """(weight uint32, scales float32, biases float32) in MLX's affine layout, group 32, exactly."""
    import numpy as np

    rows, cols = math.prod(shape[:-1]), shape[-1]
    blocks = _blocks(raw, name, rows * cols // GROUP_SIZE)
    scale = _half(blocks, 0)
    if name == "Q8_0":
        values = (blocks[:, 2:34].view(np.int8).astype(np.int16) + 128).astype(np.uint8)
        packed, bias = values, -128.0 * scale
    else:
        nibbles = blocks[:, 4:20] if name == "Q4_1" else blocks[:, 2:18]
        values = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=1)  # GGML: low nibbles first
        packed = values[:, 0::2] | (values[:, 1::2] << 4)  # MLX: element 2i in the low nibble
        bias = _half(blocks, 2) if name == "Q4_1" else -8.0 * scale
    weight = np.ascontiguousarray(packed).reshape(*shape[:-1], -1).view("<u4").astype(np.uint32)
    groups = (*shape[:-1], cols // GROUP_SIZE)
    return weight, scale.reshape(groups), bias.astype(np.float32).reshape(groups)


def dequantize(name: str, raw, shape: tuple[int, ...]):
    """The tensor's values as float32 (F16 stays float16, exactly)."""
    import numpy as np

    count = math.prod(shape)
    if name == "F32":
        return np.asarray(raw).view("<f4").astype(np.float32).reshape(shape)
    if name == "F16":
        return np.asarray(raw).view("<f2").astype(np.float16).reshape(shape)
    if name == "BF16":
        return (np.asarray(raw).view("<u2").astype(np.uint32) << 16).view(np.float32).reshape(shape)
    blocks = _blocks(raw, name, count // GGML_TYPES_BY_NAME[name][1])
    return _K_QUANTS[name](blocks).reshape(shape)


def _blocks(raw, name: str, count: int):
    import numpy as np

    return np.asarray(raw, dtype=np.uint8).reshape(count, GGML_TYPES_BY_NAME[name][2])


def _half(blocks, offset: int):
    import numpy as np

    return np.ascontiguousarray(blocks[:, offset:offset + 2]).view("<f2").astype(np.float32)


def _k_scales(packed):
    """The eight 6-bit (scale, min) pairs of a Q4_K/Q5_K block, from its 12 packed bytes."""
    import numpy as np

    low, high = packed[:, 0:4], packed[:, 8:12]
    scales = np.concatenate([low & 63, (high & 0x0F) | ((low >> 6) << 4)], axis=1)
    mins = np.concatenate([packed[:, 4:8] & 63, (high >> 4) | ((packed[:, 4:8] >> 6) << 4)], axis=1)
    return scales.astype(np.float32), mins.astype(np.float32)


def _q4_k(blocks):
    import numpy as np

    d, dmin = _half(blocks, 0), _half(blocks, 2)
    scales, mins = _k_scales(blocks[:, 4:16])
    quants = blocks[:, 16:144].reshape(-1, 4, 32)
    values = np.stack([quants & 0x0F, quants >> 4], axis=2).reshape(-1, 8, 32).astype(np.float32)
    return (d * scales)[:, :, None] * values - (dmin * mins)[:, :, None]


def _q5_k(blocks):
    import numpy as np

    d, dmin = _half(blocks, 0), _half(blocks, 2)
    scales, mins = _k_scales(blocks[:, 4:16])
    high_bits = blocks[:, 16:48]
    quants = blocks[:, 48:176].reshape(-1, 4, 32)
    low = np.stack([quants & 0x0F, quants >> 4], axis=2).reshape(-1, 8, 32)
    fifth = (high_bits[:, None, :] >> np.arange(8, dtype=np.uint8)[None, :, None]) & 1
    values = (low + (fifth << 4)).astype(np.float32)
    return (d * scales)[:, :, None] * values - (dmin * mins)[:, :, None]


def _q6_k(blocks):
    import numpy as np

    low = blocks[:, 0:128].reshape(-1, 2, 2, 32)  # [half, first/second 32 bytes, l]
    high = blocks[:, 128:192].reshape(-1, 2, 1, 32)
    scales = blocks[:, 192:208].view(np.int8).astype(np.float32).reshape(-1, 2, 4, 2, 1)
    d = _half(blocks, 208).reshape(-1, 1, 1, 1, 1)
    four = np.concatenate([low & 0x0F, low >> 4], axis=2)  # quarters 0..3 of each half
    two = (high >> (2 * np.arange(4, dtype=np.uint8)).reshape(1, 1, 4, 1)) & 3
    values = ((four | (two << 4)).astype(np.int16) - 32).astype(np.float32).reshape(-1, 2, 4, 2, 16)
    return d * scales * values


_K_QUANTS = {"Q4_K": _q4_k, "Q5_K": _q5_k, "Q6_K": _q6_k}
GGML_TYPES_BY_NAME = {name: (type_id, block, size) for type_id, (name, block, size) in GGML_TYPES.items()}
