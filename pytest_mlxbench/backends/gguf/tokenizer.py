"""The tokenizer files of a converted GGUF: byte-level BPE built with `tokenizers` from the
GGUF vocabulary, merges and special tokens, splitting text the way llama.cpp does for the
pre-tokenizer the file names (``tokenizer.ggml.pre``)."""

from __future__ import annotations

import json

from ...errors import BenchInputError
from .reader import GGUFFile

# llama.cpp's splitting patterns (gpt2 and smollm use the GPT-2 pattern built into ByteLevel).
_LLAMA3_SPLIT = (
    r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_QWEN2_SPLIT = (
    r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
# llama.cpp writes "gpt-2"; "gpt2" is accepted as the same
PRE_TOKENIZERS = ("gpt-2", "gpt2", "smollm", "llama-bpe", "qwen2")

# tokenizer.ggml.token_type values
_CONTROL, _USER_DEFINED = 3, 4


def check_tokenizer(gguf: GGUFFile) -> None:
    meta = gguf.metadata
    tokens, model = meta.get("tokenizer.ggml.tokens"), meta.get("tokenizer.ggml.model")
    if model != "gpt2" or not isinstance(tokens, list):
        kind = "no vocabulary" if not isinstance(tokens, list) else f"tokenizer model {model!r}"
        raise BenchInputError(
            f"{gguf.path}: {kind} is not supported (byte-level BPE, tokenizer.ggml.model 'gpt2', is): "
            "use an mlx-lm model directory for this model"
        )
    pre = meta.get("tokenizer.ggml.pre", "gpt2")
    if pre not in PRE_TOKENIZERS:
        raise BenchInputError(
            f"{gguf.path}: pre-tokenizer {pre!r} is not supported (supported: {', '.join(PRE_TOKENIZERS)}): "
            "use an mlx-lm model directory for this model"
        )


def tokenizer_files(gguf: GGUFFile) -> dict[str, dict]:
    """tokenizer.json and tokenizer_config.json contents for the GGUF's vocabulary."""
    check_tokenizer(gguf)
    meta = gguf.metadata
    tokens, pre = meta["tokenizer.ggml.tokens"], meta.get("tokenizer.ggml.pre", "gpt2")
    special = _special_tokens(meta, tokens)
    tokenizer = _build(tokens, meta.get("tokenizer.ggml.merges") or [], pre, meta.get("tokenizer.ggml.token_type"))
    if special["add_bos_token"] and special["bos_token"] is not None:
        _add_bos(tokenizer, special["bos_token"], meta["tokenizer.ggml.bos_token_id"])
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "clean_up_tokenization_spaces": False,
        "model_max_length": gguf.arch_value("context_length", 2048),
        **special,
    }
    template = meta.get("tokenizer.chat_template")
    if isinstance(template, str):
        config["chat_template"] = template
    return {"tokenizer.json": json.loads(tokenizer.to_str()), "tokenizer_config.json": config}


def eos_token_ids(gguf: GGUFFile) -> list[int]:
    """End of sequence and, when the GGUF names another, end of turn."""
    ids = []
    for key in ("tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id"):
        value = gguf.metadata.get(key)
        if isinstance(value, int) and value not in ids:
            ids.append(value)
    return ids


def _special_tokens(meta: dict, tokens: list[str]) -> dict:
    def token(key: str):
        index = meta.get(f"tokenizer.ggml.{key}_token_id")
        return tokens[index] if isinstance(index, int) and 0 <= index < len(tokens) else None

    return {
        "bos_token": token("bos"),
        "eos_token": token("eos"),
        "pad_token": token("padding"),
        "unk_token": token("unknown"),
        "add_bos_token": bool(meta.get("tokenizer.ggml.add_bos_token", False)),
        "add_eos_token": bool(meta.get("tokenizer.ggml.add_eos_token", False)),
    }


def _build(tokens: list[str], merges: list[str], pre: str, token_types):
    from tokenizers import AddedToken, Tokenizer, decoders, models, processors

    vocab: dict[str, int] = {}
    for index, token in enumerate(tokens):
        vocab.setdefault(token, index)
    pairs = [tuple(merge.split(" ", 1)) for merge in merges]
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=pairs, ignore_merges=pre == "llama-bpe"))
    tokenizer.pre_tokenizer = _pre_tokenizer(pre)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    types = list(token_types or [])
    added = [
        AddedToken(tokens[index], special=kind == _CONTROL, normalized=False)
        for index, kind in enumerate(types)
        if kind in (_CONTROL, _USER_DEFINED) and vocab.get(tokens[index]) == index
    ]
    tokenizer.add_tokens(added)
    return tokenizer


def _pre_tokenizer(pre: str):
    from tokenizers import Regex, pre_tokenizers

    if pre in ("gpt-2", "gpt2"):
        return pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    if pre == "smollm":
        return pre_tokenizers.Sequence(
            [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)]
        )
    pattern = _LLAMA3_SPLIT if pre == "llama-bpe" else _QWEN2_SPLIT
    return pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(pattern), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )


def _add_bos(tokenizer, bos: str, bos_id: int) -> None:
    from tokenizers import processors

    tokenizer.post_processor = processors.Sequence(
        [
            processors.ByteLevel(trim_offsets=False),
            processors.TemplateProcessing(
                single=f"{bos}:0 $A:0", pair=f"{bos}:0 $A:0 {bos}:1 $B:1", special_tokens=[(bos, bos_id)]
            ),
        ]
    )
