"""Can the model be split this way across this many ranks? Checked before anything starts.

What mlx-lm supports per architecture (``Model.shard`` for tensor parallelism, a ``PipelineMixin``
model for pipelining) is read by importing the architecture's module in a short subprocess, so
the pytest process never imports mlx. The sizes come from ``config.json``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ...errors import BenchInputError
from ..models import _read_config

INDEX_FILE = "model.safetensors.index.json"
TENSOR_SPLIT_KEYS = ("num_attention_heads", "num_key_value_heads", "intermediate_size")
_PROBE = """
import json, sys
from mlx_lm.models.pipeline import PipelineMixin
from mlx_lm.utils import _get_classes
model_class, _ = _get_classes(json.load(open(sys.argv[1])))
module = sys.modules[model_class.__module__]
pipelined = [value for value in vars(module).values()
             if isinstance(value, type) and value is not PipelineMixin and issubclass(value, PipelineMixin)]
print(json.dumps({"tensor": hasattr(model_class, "shard"), "pipeline": bool(pipelined)}))
"""


def check_before_start(settings, model_dir: Path, xdist_workers: bool) -> None:
    """Everything about ``--mlx-hosts`` that is known before a rank starts, as one line each."""
    topology = settings.mlx_hosts
    if topology is None:
        return
    if not topology.local:
        from .launch import launcher_executable

        launcher_executable()
        if xdist_workers:
            raise BenchInputError("--mlx-hosts names other hosts: with pytest-xdist (-n) every worker would start "
                                  "its own ranks on them; run without -n")
    check_shardable(model_dir, topology.ranks, settings.mlx_shard)


def check_shardable(model_dir: Path, ranks: int, shard: str) -> None:
    config = _read_config(model_dir)
    arch = str(config.get("model_type", "?"))
    support = architecture_support(model_dir)
    if shard == "tensor":
        if support is not None and not support["tensor"]:
            other = "; try --mlx-shard pipeline" if support["pipeline"] else ""
            raise BenchInputError(f"--mlx-shard tensor: mlx-lm cannot split the {arch} architecture across ranks "
                                  f"(its model has no shard()){other}")
        for key in TENSOR_SPLIT_KEYS:
            size = _size(config, key)
            if size is not None and size % ranks:
                fits = [n for n in range(2, size + 1) if size % n == 0][:4]
                raise BenchInputError(
                    f"--mlx-hosts gives {ranks} ranks, but the model's {key} ({size}) does not divide by {ranks}: "
                    f"tensor parallelism splits attention heads and MLP width evenly; use "
                    f"{' or '.join(map(str, fits)) or 'another number of'} ranks, or --mlx-shard pipeline")
        return
    if support is not None and not support["pipeline"]:
        raise BenchInputError(f"--mlx-shard pipeline: mlx-lm cannot pipeline the {arch} architecture (it can qwen2, "
                              "qwen3_moe, deepseek_v3 and a few more); use --mlx-shard tensor")
    if not (model_dir / INDEX_FILE).is_file():
        raise BenchInputError(f"--mlx-shard pipeline needs {INDEX_FILE} in {model_dir} (each rank loads only the "
                              "files of its layers): convert the model with mlx_lm.convert, which writes it")
    layers = _size(config, "num_hidden_layers")
    if layers is not None and layers < ranks:
        raise BenchInputError(f"--mlx-shard pipeline: the model has {layers} layers, fewer than the {ranks} ranks "
                              f"of --mlx-hosts: give at most {layers} ranks")


def architecture_support(model_dir: Path) -> dict[str, bool] | None:
    """{"tensor": ..., "pipeline": ...} as the installed mlx-lm says; None when it cannot tell (an
    unknown architecture: the server's own load error names it, within seconds)."""
    try:
        probe = subprocess.run([sys.executable, "-c", _PROBE, str(model_dir / "config.json")],
                               capture_output=True, text=True, timeout=120, check=False)
        return json.loads(probe.stdout) if probe.returncode == 0 else None
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


def _size(config: dict, key: str) -> int | None:
    value = config.get(key, config.get("text_config", {}).get(key))
    return value if isinstance(value, int) and value > 0 else None
