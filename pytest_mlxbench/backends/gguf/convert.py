"""Converting a llama-family GGUF file into an mlx-lm model directory.

Weights keep their GGUF quantization where MLX has the same layout (Q4_0, Q4_1, Q8_0:
affine, group 32) and are dequantized otherwise, with a note. llama.cpp's converter
permutes the rows of the llama Q and K projections for its interleaved RoPE; they are
permuted back here (weights, scales and biases together), so the directory is laid out
like the original Hugging Face model. Scales, biases and float tensors are written as
float16 where Metal runs the model and as float32 on the CPU, where MLX's quantized
matmul is far slower with float16 scales.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

from ...errors import BenchInputError
from . import GGUF_CONFIG_KEY
from .quants import GROUP_SIZE, NATIVE_BITS, SUPPORTED_TYPES, dequantize, repack_native
from .reader import GGUFFile, TensorInfo
from .tokenizer import check_tokenizer, eos_token_ids, tokenizer_files

# GGUF architecture -> mlx-lm model type and the Hugging Face class it mirrors
ARCHITECTURES = {"llama": ("llama", "LlamaForCausalLM"), "qwen2": ("qwen2", "Qwen2ForCausalLM")}
# Only llama's converter permutes Q/K rows (qwen2 GGUFs use NeoX RoPE, unpermuted).
_PERMUTED_ARCHITECTURES = {"llama"}
_TOP_LEVEL = {"token_embd": "model.embed_tokens", "output_norm": "model.norm", "output": "lm_head"}
_IN_BLOCK = {
    "attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm",
    "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj",
}
_BLOCK_TENSOR = re.compile(r"blk\.(\d+)\.(\w+)\.(weight|bias)")
# llama.cpp's general.file_type values (llama_ftype) for the quantization label
FILE_TYPES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K", 11: "Q3_K_S",
    12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K",
    19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS", 23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL",
    26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S", 29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16",
}
WEIGHTS_FILE = "model.safetensors"


def check_convertible(gguf: GGUFFile) -> None:
    """Everything that would stop the conversion, as one line, before any work is done."""
    arch = gguf.architecture
    if arch not in ARCHITECTURES:
        raise BenchInputError(
            f"{gguf.path}: GGUF architecture {arch!r} is not supported (supported: {', '.join(ARCHITECTURES)}, "
            "which covers llama, mistral, smollm and qwen2 models): use an mlx-lm model directory for it"
        )
    for info in gguf.tensors.values():
        if info.type_name not in SUPPORTED_TYPES:
            raise BenchInputError(
                f"{gguf.path}: tensor {info.name} has type {info.type_name}, which this converter cannot read "
                f"(supported: {', '.join(SUPPORTED_TYPES)}): use a Q4_0, Q4_1, Q8_0, Q4_K_M, Q5_K_M, Q6_K or F16 file"
            )
        _mlx_name(gguf, info.name)
    check_tokenizer(gguf)
    rope_dims, head_dim = gguf.arch_value("rope.dimension_count"), _head_dim(gguf)
    if rope_dims is not None and rope_dims != head_dim:
        raise BenchInputError(f"{gguf.path}: partial RoPE ({rope_dims} of {head_dim} dimensions) is not supported")
    if gguf.arch_value("rope.scaling.type", "none") not in ("none", "linear"):
        raise BenchInputError(
            f"{gguf.path}: RoPE scaling {gguf.arch_value('rope.scaling.type')!r} is not supported (none and linear are)"
        )


def quantization_label(gguf: GGUFFile) -> str:
    """``gguf-Q4_1``: llama.cpp's name for the file's quantization."""
    file_type = gguf.metadata.get("general.file_type")
    if file_type in FILE_TYPES:
        return f"gguf-{FILE_TYPES[file_type]}"
    matrices = Counter(info.type_name for info in gguf.tensors.values() if len(info.shape) == 2)
    return f"gguf-{matrices.most_common(1)[0][0]}" if matrices else "gguf"


def convert(gguf: GGUFFile, out_dir: Path, metal: bool, sha256: str) -> None:
    """Write config, weights and tokenizer of the mlx-lm model to the existing directory `out_dir`."""
    import mlx.core as mx

    check_convertible(gguf)
    float_dtype = mx.float16 if metal else mx.float32
    weights, module_bits, kept, dequantized = {}, {}, Counter(), Counter()
    for info in gguf.tensors.values():
        module, kind = _mlx_name(gguf, info.name).rsplit(".", 1)
        arrays = _tensor_arrays(gguf, info)
        if len(arrays) == 3:
            module_bits[module] = NATIVE_BITS[info.type_name]
            kept[info.type_name] += 1
            named = zip(("weight", "scales", "biases"), arrays)
        else:
            if info.type_name not in ("F32", "F16"):
                dequantized[info.type_name] += 1
            named = [(kind, arrays[0])]
        for suffix, array in named:
            array = _unpermute(gguf, info.name, array)
            weights[f"{module}.{suffix}"] = mx.array(array) if array.dtype.kind == "u" else mx.array(array).astype(float_dtype)
    mx.save_safetensors(str(out_dir / WEIGHTS_FILE), weights, metadata={"format": "mlx"})
    del weights
    config = _model_config(gguf, module_bits)
    config[GGUF_CONFIG_KEY] = {
        "file": gguf.path.name,
        "sha256": sha256,
        "quantization": quantization_label(gguf),
        "float_dtype": "float16" if metal else "float32",
        "notes": _notes(gguf, kept, dequantized, metal),
    }
    config["mlxbench_revision"] = f"sha256:{sha256[:16]}"
    files = {"config.json": config, **tokenizer_files(gguf)}
    files["generation_config.json"] = {"eos_token_id": eos_token_ids(gguf)}
    for file_name, content in files.items():
        (out_dir / file_name).write_text(json.dumps(content, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def _tensor_arrays(gguf: GGUFFile, info: TensorInfo) -> tuple:
    raw = gguf.tensor_bytes(info.name)
    if info.type_name in NATIVE_BITS and len(info.shape) == 2:
        return repack_native(info.type_name, raw, info.shape)
    return (dequantize(info.type_name, raw, info.shape),)


def _mlx_name(gguf: GGUFFile, name: str) -> str:
    stem, _, kind = name.rpartition(".")
    if stem in _TOP_LEVEL and kind == "weight":
        return f"{_TOP_LEVEL[stem]}.weight"
    match = _BLOCK_TENSOR.fullmatch(name)
    if match and match.group(2) in _IN_BLOCK:
        return f"model.layers.{match.group(1)}.{_IN_BLOCK[match.group(2)]}.{match.group(3)}"
    reason = " (llama 3.1-style RoPE frequency factors)" if stem == "rope_freqs" else ""
    raise BenchInputError(
        f"{gguf.path}: tensor {name}{reason} has no place in an mlx-lm {gguf.architecture} model: "
        "use an mlx-lm model directory for this model"
    )


def _unpermute(gguf: GGUFFile, gguf_name: str, array):
    """Undo llama.cpp's row permutation of Q/K: rows (head, half, pair) back to (head, pair, half)."""
    if gguf.architecture not in _PERMUTED_ARCHITECTURES:
        return array
    if ".attn_q." in gguf_name:
        heads = gguf.arch_value("attention.head_count")
    elif ".attn_k." in gguf_name:
        heads = gguf.arch_value("attention.head_count_kv", gguf.arch_value("attention.head_count"))
    else:
        return array
    rows = array.shape[0]
    return array.reshape(heads, rows // heads // 2, 2, *array.shape[1:]).swapaxes(1, 2).reshape(array.shape)


def _head_dim(gguf: GGUFFile) -> int:
    return gguf.arch_value("attention.key_length") or gguf.arch_value("embedding_length") // gguf.arch_value(
        "attention.head_count"
    )


def _model_config(gguf: GGUFFile, module_bits: dict[str, int]) -> dict:
    model_type, hf_class = ARCHITECTURES[gguf.architecture]
    value = gguf.arch_value
    heads = value("attention.head_count")
    config = {
        "model_type": model_type,
        "architectures": [hf_class],
        "hidden_size": value("embedding_length"),
        "intermediate_size": value("feed_forward_length"),
        "num_hidden_layers": value("block_count"),
        "num_attention_heads": heads,
        "num_key_value_heads": value("attention.head_count_kv", heads),
        "rms_norm_eps": value("attention.layer_norm_rms_epsilon", 1e-5),
        "rope_theta": value("rope.freq_base", 10000.0),
        "max_position_embeddings": value("context_length", 2048),
        "vocab_size": len(gguf.metadata["tokenizer.ggml.tokens"]),
        "tie_word_embeddings": "output.weight" not in gguf.tensors,
    }
    if model_type == "llama":
        config["head_dim"] = _head_dim(gguf)
        config["attention_bias"] = "blk.0.attn_q.bias" in gguf.tensors
    if value("rope.scaling.type") == "linear":
        config["rope_scaling"] = {"type": "linear", "factor": value("rope.scaling.factor")}
    if module_bits:
        config["quantization"] = _quantization_config(module_bits)
    return config


def _quantization_config(module_bits: dict[str, int]) -> dict:
    """The most common width as default; every module quantized differently named (the embedding)."""
    bits = Counter(module_bits.values()).most_common(1)[0][0]
    config = {"group_size": GROUP_SIZE, "bits": bits, "mode": "affine"}
    for module, module_width in sorted(module_bits.items()):
        if module_width != bits:
            config[module] = {"group_size": GROUP_SIZE, "bits": module_width, "mode": "affine"}
    return config


def _notes(gguf: GGUFFile, kept: Counter, dequantized: Counter, metal: bool) -> list[str]:
    def counted(counter: Counter) -> str:
        return ", ".join(f"{count} {kind}" for kind, count in sorted(counter.items()))

    notes = [f"{gguf.path.name}: converted from GGUF; {counted(kept) or 'no'} tensors kept exactly as MLX affine group-32 quantization"]
    if dequantized:
        dtype = "float16" if metal else "float32"
        notes.append(f"{gguf.path.name}: {counted(dequantized)} tensors dequantized to {dtype} (MLX has no layout for them)")
    if not metal:
        notes.append(
            "no Metal: scales, biases and float tensors written as float32 "
            "(MLX's CPU quantized matmul is far slower with float16 scales)"
        )
    return notes
