"""Varied text for the GGUF tokenizer tests, and where llama.cpp's ids of it are kept (written by
``benchmarks/gguf_tokenizer_vs_llama_cpp.py --write-golden`` with llama-cpp-python 0.3.36)."""

from pathlib import Path

PRE_TOKENIZERS = ("smollm", "gpt-2", "llama-bpe", "qwen2")
GOLDEN_IDS = Path(__file__).parent / "data" / "smollm2_llama_cpp_ids.json"
TOKENIZER_TEXTS = [
    "Hello world",
    "  leading spaces and    runs\t\ttabs\n\n\nnewlines \r\n crlf",
    "digits 1234567890 3.14159 1,000,000 2024-01-15 0x1F",
    "Unicode: é è à ç ñ ü ö ß Ω π λ → ← ✓ ✗ — “quotes” 😀 🚀 中文 日本語 한국어 ＡＢＣ ﬁ",
    "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
    "a<|endoftext|>b<file_sep>c<jupyter_code>",
    "don't won't it's I'M YOU'RE we'll they'd",
    "def f(x):\n    return x**2  # comment\n\tpass\n",
    "   ",
    "\n",
    "x" * 50 + " " + "ab" * 30,
]
