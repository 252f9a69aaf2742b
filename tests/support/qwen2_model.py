"""A small qwen2-architecture model for pipeline tests: mlx-lm pipelines qwen2 (not llama), and a
pipelined rank loads only the files of its layers, so the weights come in two files with a
``model.safetensors.index.json``. Built from the tiny llama (same tokenizer, same shapes) plus
the attention biases qwen2 has, drawn from a fixed seed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file

SEED = 20260518
INDEX_FILE = "model.safetensors.index.json"


def build_qwen2_model(tiny_model_dir: Path, target: Path) -> Path:
    target.mkdir(parents=True)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json"):
        shutil.copy(tiny_model_dir / name, target / name)
    config = json.loads((tiny_model_dir / "config.json").read_text())
    config.update(model_type="qwen2", architectures=["Qwen2ForCausalLM"])
    config.pop("head_dim", None)  # qwen2 derives it: hidden_size / num_attention_heads
    (target / "config.json").write_text(json.dumps(config, indent=1))

    weights = load_file(str(tiny_model_dir / "model.safetensors"))
    rng = np.random.default_rng(SEED)
    for layer in range(config["num_hidden_layers"]):
        for projection in ("q_proj", "k_proj", "v_proj"):
            rows = weights[f"model.layers.{layer}.self_attn.{projection}.weight"].shape[0]
            weights[f"model.layers.{layer}.self_attn.{projection}.bias"] = (rng.standard_normal(rows) * 0.02).astype(np.float32)
    files = {"model-00001-of-00002.safetensors": {}, "model-00002-of-00002.safetensors": {}}
    first, second = files
    for name, tensor in weights.items():
        files[second if name.startswith("model.layers.1.") or name == "model.norm.weight" else first][name] = tensor
    for file_name, tensors in files.items():
        save_file(tensors, str(target / file_name), metadata={"format": "mlx"})
    index = {"metadata": {"total_size": sum(t.nbytes for t in weights.values())},
             "weight_map": {name: file for file, tensors in files.items() for name in tensors}}
    (target / INDEX_FILE).write_text(json.dumps(index, indent=1))
    return target
