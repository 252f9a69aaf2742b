"""GGUF files as models: read the header, convert once into a cached mlx-lm directory.

`reader` parses the header, `quants` repacks or dequantizes tensors, `tokenizer` builds
the tokenizer files, `convert` writes the mlx-lm directory and `cache` keeps it.
Nothing here imports mlx at import time.
"""

GGUF_SUFFIX = ".gguf"
# config.json key of a converted model: source file, its hash, quantization label, notes
GGUF_CONFIG_KEY = "mlxbench_gguf"
