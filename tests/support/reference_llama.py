"""An independent float64 numpy forward pass over a GGUF file, read the way llama.cpp reads it:
tensors dequantized by the `gguf` package, Q/K rows left as the file has them and rotated the way
llama.cpp rotates them for the architecture (adjacent pairs for llama, NeoX halves for qwen2)."""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np


class ReferenceLlama:
    """Logits of a llama or qwen2 GGUF for a list of token ids."""

    def __init__(self, path: Path):
        reader = gguf.GGUFReader(str(path))
        meta = {field.name: field.contents() for field in reader.fields.values() if not field.name.startswith("GGUF.")}
        arch = meta["general.architecture"]
        self.neox_rope = arch == "qwen2"
        self.layers = meta[f"{arch}.block_count"]
        self.heads = meta[f"{arch}.attention.head_count"]
        self.kv_heads = meta[f"{arch}.attention.head_count_kv"]
        self.eps = meta[f"{arch}.attention.layer_norm_rms_epsilon"]
        self.base = meta[f"{arch}.rope.freq_base"]
        self.tensors = {
            tensor.name: gguf.quants.dequantize(tensor.data, tensor.tensor_type).astype(np.float64)
            for tensor in reader.tensors
        }

    def logits(self, ids: list[int]) -> np.ndarray:
        t = self.tensors
        x = t["token_embd.weight"][ids]
        for layer in range(self.layers):
            w = {name.split(".", 2)[2]: value for name, value in t.items() if name.startswith(f"blk.{layer}.")}
            x = x + self._attention(self._norm(x, w["attn_norm.weight"]), w)
            h = self._norm(x, w["ffn_norm.weight"])
            gate = h @ w["ffn_gate.weight"].T
            x = x + (gate / (1 + np.exp(-gate)) * (h @ w["ffn_up.weight"].T)) @ w["ffn_down.weight"].T
        return self._norm(x, t["output_norm.weight"]) @ t.get("output.weight", t["token_embd.weight"]).T

    def _norm(self, x, weight):
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + self.eps) * weight

    def _attention(self, h, w):
        count = len(h)
        q = self._rope(self._linear(h, w, "attn_q").reshape(count, self.heads, -1))
        k = self._rope(self._linear(h, w, "attn_k").reshape(count, self.kv_heads, -1))
        v = self._linear(h, w, "attn_v").reshape(count, self.kv_heads, -1)
        group = self.heads // self.kv_heads
        k, v = np.repeat(k, group, axis=1), np.repeat(v, group, axis=1)
        scores = np.einsum("qhd,khd->hqk", q, k) / np.sqrt(q.shape[-1])
        scores = scores + np.triu(np.full((count, count), -np.inf), 1)
        weights = np.exp(scores - scores.max(-1, keepdims=True))
        weights /= weights.sum(-1, keepdims=True)
        return np.einsum("hqk,khd->qhd", weights, v).reshape(count, -1) @ w["attn_output.weight"].T

    @staticmethod
    def _linear(h, w, name):
        out = h @ w[f"{name}.weight"].T
        return out + w[f"{name}.bias"] if f"{name}.bias" in w else out

    def _rope(self, x):
        """Pair i rotates by position * base^(-2i/d); llama.cpp pairs dimensions (2i, 2i+1) for
        llama (its normal mode) and (i, i + d/2) for qwen2 (NeoX mode)."""
        dims = x.shape[-1]
        angles = np.arange(len(x))[:, None] * self.base ** (-np.arange(0, dims, 2) / dims)[None, :]
        cos, sin = np.cos(angles)[:, None, :], np.sin(angles)[:, None, :]
        first, second = (slice(0, dims // 2), slice(dims // 2, dims)) if self.neox_rope else (slice(0, None, 2), slice(1, None, 2))
        out = np.empty_like(x)
        out[..., first] = x[..., first] * cos - x[..., second] * sin
        out[..., second] = x[..., first] * sin + x[..., second] * cos
        return out
