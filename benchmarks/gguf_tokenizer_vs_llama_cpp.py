"""Our GGUF tokenizer against llama.cpp's (llama-cpp-python), on SmolLM2's vocabulary under each
supported pre-tokenizer. Dev-only: llama-cpp-python compiles from source where no wheel exists,
so CI checks against the golden ids this script writes (tests/support/data/smollm2_llama_cpp_ids.json).

    python benchmarks/gguf_tokenizer_vs_llama_cpp.py [--write-golden] [TEXT_FILE_OR_DIR ...]

With paths, every text file under them is compared too (e.g. ../shared/datasets); prints the
number of documents and tokens compared and the mismatches; exits 1 on any mismatch.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support.gguf_files import copy_with_metadata  # noqa: E402
from support.tokenizer_texts import GOLDEN_IDS, PRE_TOKENIZERS, TOKENIZER_TEXTS  # noqa: E402

from pytest_mlxbench.backends.gguf.reader import read_gguf  # noqa: E402
from pytest_mlxbench.backends.gguf.tokenizer import tokenizer_files  # noqa: E402
from pytest_mlxbench.backends.models import builtin_gguf_path  # noqa: E402


def documents(paths: list[str]) -> list[str]:
    texts = []
    for path in map(Path, paths):
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for file in files:
            try:
                texts.extend(line for line in file.read_text(encoding="utf-8").splitlines() if line.strip())
            except (UnicodeDecodeError, OSError):
                continue
    return texts


def main() -> int:
    import llama_cpp
    from tokenizers import Tokenizer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write-golden", action="store_true", help="write llama.cpp's ids of the test texts")
    parser.add_argument("paths", nargs="*")
    args = parser.parse_args()
    extra = documents(args.paths)
    golden, mismatches, compared_tokens = {}, 0, 0
    with tempfile.TemporaryDirectory() as work:
        for pre in PRE_TOKENIZERS:
            vocab = copy_with_metadata(builtin_gguf_path("smollm2-135m"), Path(work) / f"{pre}.gguf",
                                       **{"tokenizer.ggml.pre": pre})
            ours = Tokenizer.from_str(json.dumps(tokenizer_files(read_gguf(vocab))["tokenizer.json"]))
            theirs = llama_cpp.Llama(str(vocab), vocab_only=True, verbose=False)
            golden[pre] = []
            for text in [*TOKENIZER_TEXTS, *extra]:
                expected = theirs.tokenize(text.encode("utf-8"), add_bos=False, special=True)
                if len(golden[pre]) < len(TOKENIZER_TEXTS):
                    golden[pre].append(expected)
                compared_tokens += len(expected)
                if ours.encode(text).ids != expected:
                    mismatches += 1
                    print(f"{pre}: mismatch on {text[:60]!r}")
    documents_compared = len(PRE_TOKENIZERS) * (len(TOKENIZER_TEXTS) + len(extra))
    print(f"compared {documents_compared} documents, {compared_tokens} tokens: {mismatches} mismatches")
    if args.write_golden:
        GOLDEN_IDS.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN_IDS.write_text(json.dumps(golden) + "\n")
        print(f"wrote {GOLDEN_IDS}")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
