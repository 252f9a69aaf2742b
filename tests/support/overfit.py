"""Overfit the built-in tiny model so it answers chosen prompts with chosen texts.

End-to-end tests need a real model whose answers are known in advance: a given
tool call for one question, a given code block for another. `train_tiny_model`
fine-tunes every weight of the tiny model on (prompt, target) pairs until greedy
decoding reproduces each target exactly, then saves a complete model directory
that `mlx_lm.load` and `mlx_lm.server` serve like any other.

Prompts are rendered exactly as `mlx_lm.server` renders a chat request (same
message preprocessing, chat template, tools and generation prompt), so the
server at temperature 0 gives back the trained targets.
"""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from pytest_mlxbench.backends.tinymodel import (
    MANIFEST_FILE,
    TINY_MODEL_VERSION,
    WEIGHTS_FILE,
    cache_root,
    ensure_tiny_model,
    install_atomically,
    is_intact,
    write_manifest,
)

LEARNING_RATE = 2e-3
# Logit lead of each target token over the runner-up before we try real generation:
# leaves room for the small numeric differences of cached, incremental decoding.
MIN_MARGIN = 0.25
CHECK_EVERY = 10
# Part of the cache key: bump when a change to the training would change its result.
TRAINER_VERSION = 1


@dataclass(frozen=True)
class Example:
    """One chat request and the exact assistant text the trained model must answer."""

    messages: list[dict]
    target: str
    tools: list[dict] | None = None


class OverfitError(RuntimeError):
    """The model did not learn every target within the step budget."""


def train_tiny_model(
    examples: list[Example], out_dir: Path, *, steps: int = 300, seed: int = 0, use_cache: bool = True
) -> Path:
    """Fine-tune the tiny model until greedy decoding emits every target; save it to `out_dir`.

    `out_dir` should hold nothing else (its manifest covers every file in it).
    Training is full-batch Adam in a fixed order; `seed` seeds mlx.random first
    (nothing random is drawn today) and, like `steps`, is part of the cache key.
    With `use_cache`, a model trained before from the same inputs is copied from
    `cache_root()/overfit/<key>` instead of training again.
    Raises OverfitError when some target is still not generated after `steps` steps.
    """
    if not examples:
        raise ValueError("train_tiny_model needs at least one Example")
    out_dir = Path(out_dir)
    cached = cache_root() / "overfit" / _cache_key(examples, steps, seed)
    if use_cache and is_intact(cached):
        return _copy_model(cached, out_dir)
    _train_and_save(examples, out_dir, steps=steps, seed=seed)
    if use_cache:
        _store_in_cache(out_dir, cached)
    return out_dir


def server_prompt_tokens(tokenizer, example: Example) -> list[int]:
    """The prompt tokens mlx_lm.server builds for this chat request."""
    from mlx_lm.server import process_message_content

    messages = copy.deepcopy(example.messages)
    process_message_content(messages)
    return list(
        tokenizer.apply_chat_template(messages, tools=example.tools or None, tokenize=True, add_generation_prompt=True)
    )


def _cache_key(examples: list[Example], steps: int, seed: int) -> str:
    payload = {
        "examples": [asdict(example) for example in examples],
        "steps": steps,
        "seed": seed,
        "tiny_model_version": TINY_MODEL_VERSION,
        "trainer_version": TRAINER_VERSION,
        "learning_rate": LEARNING_RATE,
        "min_margin": MIN_MARGIN,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:24]


def _train_and_save(examples: list[Example], out_dir: Path, *, steps: int, seed: int) -> None:
    import mlx.core as mx
    import mlx_lm

    base_dir = ensure_tiny_model()
    model, tokenizer = mlx_lm.load(str(base_dir))
    sequences = [_encode(tokenizer, example) for example in examples]
    mx.random.seed(seed)
    _fit(model, tokenizer, sequences, examples, steps)
    _save(model, base_dir, out_dir)


def _encode(tokenizer, example: Example) -> tuple[list[int], list[int]]:
    """(prompt tokens, target tokens + eos) of one example."""
    target = example.target
    if not target or target.startswith(" ") or "<|im_end|>" in target:
        # mlx-lm's streaming detokenizer drops a leading space; <|im_end|> ends generation.
        raise ValueError(f"Example target must be non-empty, not start with a space, nor contain <|im_end|>: {target!r}")
    target_tokens = list(tokenizer.encode(target, add_special_tokens=False))
    if tokenizer.decode(target_tokens) != target:
        raise ValueError(f"Example target does not round-trip through the tiny tokenizer: {target!r}")
    return server_prompt_tokens(tokenizer, example), target_tokens + [tokenizer.eos_token_id]


def _fit(model, tokenizer, sequences, examples: list[Example], steps: int) -> None:
    import mlx.core as mx
    import mlx.nn as nn
    import mlx.optimizers as optim

    roots = _build_trie([_Sequence.of(prompt, target) for prompt, target in sequences], start=0)

    def loss_and_margin(model):
        logits, labels = _target_logits(model, roots)
        loss = nn.losses.cross_entropy(logits, labels).mean()
        return loss, _min_margin(logits, labels)

    step_fn = nn.value_and_grad(model, loss_and_margin)
    optimizer = optim.Adam(learning_rate=LEARNING_RATE)
    next_check = 0
    for step in range(steps):
        (loss, margin), grads = step_fn(model)
        mx.eval(loss, margin, grads)
        if margin.item() > MIN_MARGIN and step >= next_check:
            if _generates_targets(model, tokenizer, examples):
                return
            next_check = step + CHECK_EVERY
        optimizer.update(model, grads)
        mx.eval(model.parameters(), optimizer.state)
    failing = [e.target for e in examples if not _generates_target(model, tokenizer, e)]
    raise OverfitError(
        f"tiny model did not learn {len(failing)} of {len(examples)} targets in {steps} steps "
        f"(last loss {loss.item():.4f}); raise steps or shorten targets. First failing: {failing[:1]!r}"
    )


# Training runs every distinct token prefix once: the sequences are laid out as a
# trie (examples share long chat-template and tool-list prefixes), and each trie
# node runs as one batch-1 segment that attends to the keys/values of its
# ancestors, like a KV cache but differentiable.


@dataclass(frozen=True)
class _Sequence:
    inputs: tuple[int, ...]  # prompt + target, without the last token
    labels: dict[int, int]  # position -> the target token the model must predict there

    @classmethod
    def of(cls, prompt: list[int], target: list[int]) -> _Sequence:
        first = len(prompt) - 1
        return cls(tuple(prompt + target[:-1]), {first + i: token for i, token in enumerate(target)})


@dataclass
class _TrieNode:
    tokens: list[int]
    labels: dict[int, int]  # offset in `tokens` -> target token predicted there
    children: list[_TrieNode]


def _build_trie(sequences: list[_Sequence], start: int) -> list[_TrieNode]:
    by_next_token: dict[int, list[_Sequence]] = {}
    for sequence in sequences:
        by_next_token.setdefault(sequence.inputs[start], []).append(sequence)
    nodes = []
    for group in by_next_token.values():
        end = start + _common_length([sequence.inputs[start:] for sequence in group])
        labels: dict[int, int] = {}
        for sequence in group:
            for position in range(start, end):
                if position in sequence.labels:
                    if labels.setdefault(position - start, sequence.labels[position]) != sequence.labels[position]:
                        raise ValueError("two Examples have the same prompt but different targets: no model can learn both")
        longer = [sequence for sequence in group if len(sequence.inputs) > end]
        nodes.append(_TrieNode(list(group[0].inputs[start:end]), labels, _build_trie(longer, end)))
    return nodes


def _common_length(token_lists: list[tuple[int, ...]]) -> int:
    length = min(len(tokens) for tokens in token_lists)
    for i in range(length):
        if any(tokens[i] != token_lists[0][i] for tokens in token_lists):
            return i
    return length


def _target_logits(model, roots: list[_TrieNode]):
    """Logits at every target position of the trie, and the labels they must predict."""
    import mlx.core as mx

    hidden, labels = [], []
    pending = [(node, None) for node in roots]
    while pending:
        node, parent_caches = pending.pop()
        caches = [_SegmentCache(parent) for parent in parent_caches or [None] * len(model.layers)]
        segment = model.model(mx.array([node.tokens]), cache=caches)[0]
        if node.labels:
            offsets = sorted(node.labels)
            hidden.append(segment[mx.array(offsets)])
            labels.extend(node.labels[offset] for offset in offsets)
        pending.extend((child, caches) for child in node.children)
    hidden = mx.concatenate(hidden)
    if model.args.tie_word_embeddings:
        return model.model.embed_tokens.as_linear(hidden), mx.array(labels)
    return model.lm_head(hidden), mx.array(labels)


class _SegmentCache:
    """The KV-cache interface mlx-lm attention layers call, over one trie node and its ancestors."""

    def __init__(self, parent: _SegmentCache | None):
        self.parent = parent
        self.offset = parent.keys.shape[2] if parent else 0  # tokens before this segment
        self.keys = self.values = None

    def update_and_fetch(self, keys, values):
        import mlx.core as mx

        if self.parent is not None:
            keys = mx.concatenate([self.parent.keys, keys], axis=2)
            values = mx.concatenate([self.parent.values, values], axis=2)
        self.keys, self.values = keys, values
        return keys, values


def _min_margin(logits, labels):
    """Smallest lead of the target logit over the best other logit."""
    import mlx.core as mx

    target_logit = mx.take_along_axis(logits, labels[:, None], axis=-1)[:, 0]
    others = mx.where(mx.arange(logits.shape[-1]) == labels[:, None], -mx.inf, logits)
    return (target_logit - others.max(axis=-1)).min()


def _generates_targets(model, tokenizer, examples: list[Example]) -> bool:
    return all(_generates_target(model, tokenizer, example) for example in examples)


def _generates_target(model, tokenizer, example: Example) -> bool:
    import mlx_lm

    max_tokens = len(tokenizer.encode(example.target, add_special_tokens=False)) + 2
    prompt = server_prompt_tokens(tokenizer, example)
    return mlx_lm.generate(model, tokenizer, prompt=prompt, max_tokens=max_tokens) == example.target


def _save(model, base_dir: Path, out_dir: Path) -> None:
    import mlx.core as mx
    from mlx.utils import tree_flatten

    out_dir.mkdir(parents=True, exist_ok=True)
    for source in sorted(base_dir.iterdir()):
        if source.is_file() and source.name not in (WEIGHTS_FILE, MANIFEST_FILE):
            shutil.copyfile(source, out_dir / source.name)
    weights = dict(tree_flatten(model.parameters()))
    mx.save_safetensors(str(out_dir / WEIGHTS_FILE), weights, metadata={"format": "mlx"})
    write_manifest(out_dir)


def _copy_model(source: Path, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in sorted(source.iterdir()):
        if path.is_file():
            shutil.copyfile(path, out_dir / path.name)
    return out_dir


def _store_in_cache(model_dir: Path, cached: Path) -> None:
    cached.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{cached.name}-", dir=cached.parent))
    try:
        _copy_model(model_dir, staging)
        install_atomically(staging, cached)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
