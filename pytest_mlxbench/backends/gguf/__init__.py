"""GGUF files as models: read the header, convert once into a cached mlx-lm directory.

`reader` parses the header, `quants` repacks or dequantizes tensors, `tokenizer` builds
the tokenizer files, `convert` writes the mlx-lm directory and `cache` keeps it.
Nothing here imports mlx at import time.
"""

from pathlib import Path

GGUF_SUFFIX = ".gguf"
# config.json key of a converted model: source file, its hash, quantization label, notes
GGUF_CONFIG_KEY = "mlxbench_gguf"


def is_gguf_file(path: Path) -> bool:
    """A file named *.gguf: a reference meant as a GGUF model (its contents are checked on reading)."""
    return path.suffix.lower() == GGUF_SUFFIX and path.is_file()
