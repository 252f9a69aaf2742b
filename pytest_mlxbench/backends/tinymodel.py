"""The built-in tiny model: a deterministic random llama the suites run on by default.

It is generated locally (no model hub): fixed-seed random weights and a byte-level
BPE tokenizer trained on a small built-in corpus, with a ChatML chat template that
supports tools the way Qwen2.5 does (so mlx-lm picks its JSON tool-call parser).
It is cached per version, verified against a sha256 manifest on every use, and
rebuilt when any file is missing or altered.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

TINY_MODEL_NAME = "mlxbench/tiny-llama"
# Part of the cache key: bump whenever the generated files would change.
TINY_MODEL_VERSION = 1

MANIFEST_FILE = "manifest.json"
WEIGHTS_FILE = "model.safetensors"

_SEED = 20240611
_VOCAB_SIZE = 512
_TOOL_TOKENS = ("<tool_call>", "</tool_call>")
_CHATML_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
EOS_TOKEN = "<|im_end|>"
PAD_TOKEN = "<|endoftext|>"

MODEL_CONFIG = {
    "model_type": "llama",
    "architectures": ["LlamaForCausalLM"],
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 4,
    "head_dim": 16,
    "rms_norm_eps": 1e-5,
    "rope_theta": 10000.0,
    "max_position_embeddings": 8192,
    "vocab_size": _VOCAB_SIZE,
    "tie_word_embeddings": True,
    "torch_dtype": "float32",
}

CHAT_TEMPLATE = (
    "{%- if tools %}"
    "{{- '<|im_start|>system\\n' }}"
    "{%- if messages[0].role == 'system' %}{{- messages[0].content + '\\n\\n' }}{%- endif %}"
    "{{- '# Tools\\n\\nYou may call functions. Their signatures are in <tools></tools>:\\n<tools>' }}"
    "{%- for tool in tools %}{{- '\\n' + (tool | tojson) }}{%- endfor %}"
    "{{- '\\n</tools>\\n\\nTo call a function, reply with a JSON object in <tool_call></tool_call> tags:\\n"
    "<tool_call>\\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\\n</tool_call><|im_end|>\\n' }}"
    "{%- elif messages[0].role == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{%- if message.role == 'system' and loop.first %}"
    "{%- elif message.role == 'user' or message.role == 'system' %}"
    "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}"
    "{%- elif message.role == 'assistant' %}"
    "{{- '<|im_start|>assistant\\n' }}"
    "{%- if message.content %}{{- message.content }}{%- endif %}"
    "{%- if message.tool_calls %}{%- for tool_call in message.tool_calls %}"
    "{%- if tool_call.function is defined %}{%- set tool_call = tool_call.function %}{%- endif %}"
    "{%- if message.content or not loop.first %}{{- '\\n' }}{%- endif %}"
    "{{- '<tool_call>\\n{\"name\": ' + (tool_call.name | tojson) + ', \"arguments\": ' }}"
    "{%- if tool_call.arguments is string %}{{- tool_call.arguments }}"
    "{%- else %}{{- tool_call.arguments | tojson }}{%- endif %}"
    "{{- '}\\n</tool_call>' }}"
    "{%- endfor %}{%- endif %}"
    "{{- '<|im_end|>\\n' }}"
    "{%- elif message.role == 'tool' %}"
    "{%- if loop.first or loop.previtem.role != 'tool' %}{{- '<|im_start|>user' }}{%- endif %}"
    "{{- '\\n<tool_response>\\n' + message.content + '\\n</tool_response>' }}"
    "{%- if loop.last or loop.nextitem.role != 'tool' %}{{- '<|im_end|>\\n' }}{%- endif %}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

# Written for this project. The tokenizer's merges come from this text, so keep it
# stable (changing it changes the model: bump TINY_MODEL_VERSION).
_CORPUS = r'''
You are a helpful assistant. Answer the question of the user in a short and clear way.
# Tools
You may call functions. Their signatures are in <tools></tools>:
To call a function, reply with a JSON object in <tool_call></tool_call> tags:
{"name": <function-name>, "arguments": <args-json-object>}
<tool_response>
</tool_response>
The weather in Paris is sunny today, with a high of 24 degrees and a light wind from the west.
It will rain tomorrow in London, so take an umbrella when you go out in the morning.
The train to Berlin leaves at 9:45 from platform 3 and arrives in the evening.
What is the capital of France? The capital of France is Paris.
What is the capital of Japan? The capital of Japan is Tokyo.
How many days are there in a week? There are seven days in a week.
The answer is 42. The result of the calculation is 128. The total is 3.75 dollars.
Please write a function that returns the sum of two numbers.
Please write a Python function that checks whether a number is prime.
Here is the code you asked for. It reads the file, counts the words and prints the result.
Thank you for your question. I hope this helps. Let me know if you need anything else.
The model reads the prompt, writes tokens one at a time, and stops at the end of its answer.
A benchmark measures how fast a model answers and how often the answer is right.
The quick brown fox jumps over the lazy dog while the cat sleeps on the warm window.
She opened the door, looked at the sky, and decided that it was a good day for a walk.
In the morning we drink coffee; in the evening we read books and listen to music.
Numbers: 0 1 2 3 4 5 6 7 8 9 10 11 12 20 25 50 64 100 256 512 1000 2048 4096.
Dates and times: 2024-01-15, 2025-06-30, 12:00, 18:30, Monday, Friday, January, July.

```python
def add(a, b):
    """Return the sum of a and b."""
    return a + b


def is_prime(n: int) -> bool:
    if n < 2:
        return False
    for i in range(2, int(n ** 0.5) + 1):
        if n % i == 0:
            return False
    return True


def fibonacci(n):
    a, b = 0, 1
    result = []
    while len(result) < n:
        result.append(a)
        a, b = b, a + b
    return result


class Counter:
    def __init__(self, start=0):
        self.value = start

    def increment(self, step=1):
        self.value += step
        return self.value


def count_words(path):
    counts = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            for word in line.split():
                counts[word] = counts.get(word, 0) + 1
    return counts


if __name__ == "__main__":
    print(add(2, 3))
    print([x * x for x in range(10) if x % 2 == 0])
    data = {"name": "test", "values": [1, 2, 3], "ok": True, "missing": None}
    print(sorted(data.keys()))
```

import json
import os
from pathlib import Path

def load_config(path: str) -> dict:
    text = Path(path).read_text()
    return json.loads(text)

def main(argv=None):
    try:
        config = load_config("config.json")
    except FileNotFoundError as error:
        raise SystemExit(f"missing file: {error}")
    for key, value in config.items():
        print(f"{key} = {value!r}")
    return 0

<tool_call>
{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}
</tool_call>
<tool_call>
{"name": "search", "arguments": {"query": "python list sort", "limit": 5}}
</tool_call>
<tool_call>
{"name": "add", "arguments": {"a": 2, "b": 3}}
</tool_call>
{"type": "function", "function": {"name": "get_weather", "description": "Get the current weather in a city", "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "The city name"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["city"]}}}
{"type": "function", "function": {"name": "search", "description": "Search the web", "parameters": {"type": "object", "properties": {"query": {"type": "string"}, "limit": {"type": "integer"}}, "required": ["query"]}}}
{"temperature": 21, "condition": "cloudy", "humidity": 0.6, "results": [], "error": null, "ok": false}
The function returned {"temperature": 21}. It is 21 degrees and cloudy in Paris.
Le temps est beau aujourd'hui. Das Wetter ist schön. El café está caliente. Überall grüne Bäume.
Unicode: é è à ç ñ ü ö ß Ω π λ → ← ✓ ✗ — “quotes” and ‘apostrophes’ 😀 🚀 中文 日本語 한국어.
Symbols: ~ ! @ # $ % ^ & * ( ) _ + - = [ ] { } | \ : ; " ' < > , . ? / ` \t tabs and
new lines, and    several    spaces.
'''


def cache_root() -> Path:
    """The cache directory of pytest-mlxbench: $MLXBENCH_CACHE_DIR, else the user cache dir."""
    configured = os.environ.get("MLXBENCH_CACHE_DIR")
    if configured:
        return Path(configured).expanduser()
    if sys.platform == "darwin":
        user_cache = Path.home() / "Library" / "Caches"
    else:
        user_cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return user_cache / "pytest-mlxbench"


def ensure_tiny_model(cache_dir: Path | None = None) -> Path:
    """Return the directory of the tiny model under `cache_dir` (default: cache_root()), building it if needed."""
    root = Path(cache_dir) if cache_dir is not None else cache_root()
    target = root / f"tiny-llama-v{TINY_MODEL_VERSION}"
    if is_intact(target):
        return target
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-build-", dir=root))
    try:
        _build(staging)
        write_manifest(staging)
        install_atomically(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def write_manifest(model_dir: Path) -> None:
    """Record the sha256 of every file of `model_dir`; written last, so its presence means complete."""
    files = sorted(p.name for p in model_dir.iterdir() if p.is_file() and p.name != MANIFEST_FILE)
    manifest = {"files": {name: _sha256(model_dir / name) for name in files}}
    (model_dir / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def is_intact(model_dir: Path) -> bool:
    """True when `model_dir` has a manifest and every listed file matches its sha256."""
    try:
        manifest = json.loads((model_dir / MANIFEST_FILE).read_text(encoding="utf-8"))
        files = manifest["files"]
        return bool(files) and all(_sha256(model_dir / name) == digest for name, digest in files.items())
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def install_atomically(staging: Path, target: Path) -> None:
    """Move the complete directory `staging` to `target` unless an intact `target` already exists.

    A lock serialises the check-and-rename between processes; an intact target is
    never replaced, so readers of a verified directory are never disturbed.
    """
    with _lock(target.parent / ".install.lock"):
        if is_intact(target):
            return
        if target.exists():
            _remove_broken(target)
        os.chmod(staging, 0o755)  # mkdtemp made it private; caches are shared like ~/.cache
        os.rename(staging, target)


@contextlib.contextmanager
def _lock(lock_path: Path):
    import fcntl

    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _remove_broken(target: Path) -> None:
    trash = Path(tempfile.mkdtemp(prefix=f".{target.name}-broken-", dir=target.parent))
    os.rename(target, trash / target.name)
    shutil.rmtree(trash, ignore_errors=True)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _build(model_dir: Path) -> None:
    tokenizer_json = _train_tokenizer_json()
    eos_id = _token_id(tokenizer_json, EOS_TOKEN)
    pad_id = _token_id(tokenizer_json, PAD_TOKEN)
    _write_json(model_dir / "tokenizer.json", tokenizer_json)
    _write_json(model_dir / "tokenizer_config.json", _tokenizer_config())
    _write_json(model_dir / "special_tokens_map.json", {"eos_token": EOS_TOKEN, "pad_token": PAD_TOKEN})
    _write_json(model_dir / "generation_config.json", {"eos_token_id": [eos_id], "pad_token_id": pad_id})
    _write_json(model_dir / "config.json", {**MODEL_CONFIG, "eos_token_id": eos_id, "pad_token_id": pad_id})
    _write_weights(model_dir / WEIGHTS_FILE)


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def _tokenizer_config() -> dict:
    return {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": MODEL_CONFIG["max_position_embeddings"],
        "bos_token": None,
        "eos_token": EOS_TOKEN,
        "pad_token": PAD_TOKEN,
        "unk_token": None,
        "clean_up_tokenization_spaces": False,
        "chat_template": CHAT_TEMPLATE,
    }


def _train_tokenizer_json() -> dict:
    """Train the byte-level BPE; returns the tokenizer.json content."""
    from tokenizers import (
        Tokenizer,
        decoders,
        models,
        pre_tokenizers,
        processors,
        trainers,
    )

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=_VOCAB_SIZE,
        special_tokens=list(_CHATML_TOKENS + _TOOL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_CORPUS.splitlines(keepends=True), trainer=trainer)
    content = json.loads(tokenizer.to_str())
    for added in content["added_tokens"]:
        # Like Qwen2.5: tool-call tags stay visible when decoding with skip_special_tokens.
        added["special"] = added["content"] not in _TOOL_TOKENS
    if tokenizer.get_vocab_size() != _VOCAB_SIZE:
        raise RuntimeError(f"tiny tokenizer has {tokenizer.get_vocab_size()} tokens, expected {_VOCAB_SIZE}")
    return content


def _token_id(tokenizer_json: dict, token: str) -> int:
    return next(added["id"] for added in tokenizer_json["added_tokens"] if added["content"] == token)


def _write_weights(path: Path) -> None:
    import mlx.core as mx
    from mlx.utils import tree_flatten
    from mlx_lm.models.llama import Model, ModelArgs

    mx.random.seed(_SEED)
    model = Model(ModelArgs.from_dict(MODEL_CONFIG))
    weights = dict(tree_flatten(model.parameters()))
    mx.eval(weights)
    mx.save_safetensors(str(path), weights, metadata={"format": "mlx"})
