"""A second tiny model with different weights: the built-in tiny model's files, its weights
redrawn from another seed (same shapes, same tokenizer), for runs that compare two models."""

from __future__ import annotations

import shutil
from pathlib import Path

from pytest_mlxbench.backends.tinymodel import WEIGHTS_FILE, ensure_tiny_model


def variant_model(out_dir: Path, seed: int = 1) -> Path:
    """A copy of the tiny model under ``out_dir`` whose random weights are redrawn (normal, each
    tensor's scale) from ``seed`` (constant ones, the norms, are kept); returns the directory."""
    import mlx.core as mx

    source = ensure_tiny_model()
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in source.iterdir():
        if path.is_file() and path.name != WEIGHTS_FILE:
            shutil.copyfile(path, out_dir / path.name)
    weights = mx.load(str(source / WEIGHTS_FILE))
    mx.random.seed(seed)
    redrawn = {name: _redrawn(tensor) for name, tensor in weights.items()}
    mx.save_safetensors(str(out_dir / WEIGHTS_FILE), redrawn, metadata={"format": "mlx"})
    return out_dir


def _redrawn(tensor):
    import mlx.core as mx

    scale = mx.std(tensor).item()
    return tensor if scale == 0 else (mx.random.normal(tensor.shape) * scale).astype(tensor.dtype)
