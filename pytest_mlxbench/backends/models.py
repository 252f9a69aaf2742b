"""Model references: a local mlx-lm model directory, a Hugging Face id, or the built-in tiny model.

Only cheap checks happen here (no mlx import): whether a path is a model directory,
how a Hugging Face id is fetched, and what config.json says about revision and
quantization.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import BenchInputError

_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
_SNAPSHOT_REVISION = re.compile(r"[0-9a-f]{40}")
# what mlx_lm.load reads; weights may come as model.safetensors or sharded files
_HUB_PATTERNS = ["*.json", "*.safetensors", "*.py", "tokenizer.model", "*.tiktoken", "*.txt", "*.jsonl", "*.jinja"]


@dataclass(frozen=True)
class ModelInfo:
    """What the envelope says about a model."""

    name: str
    path: Path | None = None
    revision: str | None = None
    quantization: str | None = None


def looks_like_hub_id(reference: str) -> bool:
    return bool(_HUB_ID.fullmatch(reference)) and not reference.startswith((".", "~"))


def check_model_reference(reference: str) -> str:
    """Return the reference if it can be a model: an mlx-lm directory, or a Hugging Face id."""
    path = Path(reference).expanduser()
    if path.exists():
        check_model_dir(path)
        return str(path.resolve())
    if looks_like_hub_id(reference):
        return reference
    raise BenchInputError(
        f"--mlx-model {reference}: no such directory, and not a Hugging Face id (org/name): "
        "give an mlx-lm model directory or an id like mlx-community/SmolLM2-135M-Instruct"
    )


def check_model_dir(path: Path) -> None:
    if not path.is_dir():
        raise BenchInputError(f"--mlx-model {path} is a file, not a model directory: give the directory holding config.json")
    missing = []
    if not (path / "config.json").is_file():
        missing.append("config.json")
    if not any(path.glob("*.safetensors")):
        missing.append("*.safetensors weights")
    if missing:
        raise BenchInputError(
            f"--mlx-model {path} is not an mlx-lm model directory (missing {' and '.join(missing)}): "
            "give a directory made by mlx_lm.convert or downloaded from mlx-community"
        )


def local_model_path(reference: str) -> Path:
    """The directory holding the model, fetching a Hugging Face id into the hub cache if needed."""
    path = Path(reference)
    if path.exists():
        return path
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(reference, allow_patterns=_HUB_PATTERNS))
    except Exception as error:  # the hub raises many kinds: offline, gated, missing, auth
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise BenchInputError(
            f"--mlx-model {reference}: cannot get it from the Hugging Face hub ({reason}); "
            "check the id and your network, or give a local model directory"
        ) from None


def describe_model(name: str, path: Path | None) -> ModelInfo:
    if path is None:
        return ModelInfo(name)
    config = _read_config(path)
    return ModelInfo(name, path, _revision(path, config), _quantization(config))


def context_length(path: Path) -> int | None:
    config = _read_config(path)
    for key in ("max_position_embeddings", "max_sequence_length", "n_positions", "seq_length"):
        value = config.get(key) or config.get("text_config", {}).get(key)
        if isinstance(value, int) and value > 0:
            return value
    return None


def _read_config(path: Path) -> dict:
    try:
        config = json.loads((path / "config.json").read_text())
    except (OSError, ValueError):
        return {}
    return config if isinstance(config, dict) else {}


def _revision(path: Path, config: dict) -> str | None:
    resolved = path.resolve()
    if resolved.parent.name == "snapshots" and _SNAPSHOT_REVISION.fullmatch(resolved.name):
        return resolved.name
    for key in ("_commit_hash", "revision", "mlxbench_revision"):
        if isinstance(config.get(key), str):
            return config[key]
    return None


def _quantization(config: dict) -> str | None:
    quant = config.get("quantization") or config.get("quantization_config")
    if isinstance(quant, dict):
        mode = quant.get("mode") or quant.get("quant_method") or "affine"
        bits = quant.get("bits")
        if mode == "affine" and bits:
            return f"mlx-{bits}bit"
        return f"{mode}-{bits}bit" if bits and str(bits) not in str(mode) else str(mode)
    dtype = config.get("torch_dtype") or config.get("dtype")
    if isinstance(dtype, str):
        return f"unquantized-{dtype}"
    return None
