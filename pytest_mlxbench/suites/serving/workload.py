"""What the load sweep sends: its points, and one request body per request.

Prompts are random tokens of the model's own vocabulary (special tokens left out), unique per
request from the first token on, so no prefix cache serves one request from another, not even
across runs (a run nonce seeds them). With the model's tokenizer at hand the prompt text
re-tokenizes to exactly the requested length (the chat template adds its own tokens; the server's
usage says how many were processed, and that number is what the metrics count). Without one, the
prompt is that many random words.

End-of-sequence: every request carries ``ignore_eos`` (vLLM's extension; servers without it
ignore it); with the tokenizer known, the end-of-sequence tokens also get a ``logit_bias`` of
-100, which ``mlx_lm.server`` honours, so replies run to the requested length. Where neither
holds, the real output lengths are what is counted. No ``seed`` is sent: ``mlx_lm.server`` does
not batch requests that carry one.
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass
from pathlib import Path

EOS_BIAS = -100.0
DEFAULT_REQUESTS = 32


@dataclass(frozen=True)
class LoadPoint:
    """One point of the sweep: closed loop (``concurrency`` requests always in flight) or open
    loop (Poisson arrivals at ``rate`` requests/s)."""

    mode: str  # "concurrency" or "rate"
    value: float

    @property
    def id(self) -> str:
        return f"c{int(self.value)}" if self.mode == "concurrency" else f"r{self.value:g}"

    def tags(self) -> dict[str, str]:
        loop = "closed" if self.mode == "concurrency" else "open_poisson"
        return {"mode": "server", "load": loop, self.mode: f"{self.value:g}"}


def load_points(settings) -> list[LoadPoint]:
    """The points the options ask for (none: the sweep is not run)."""
    concurrency = settings.load_concurrency or ()
    return ([LoadPoint("concurrency", float(n)) for n in concurrency]
            + [LoadPoint("rate", rate) for rate in settings.load_rate or ()])


class Workload:
    """Request bodies for one run: ``body(salt)`` is the chat request for one request."""

    def __init__(self, model: str, prompt_tokens: int, output_tokens: int, temperature: float,
                 model_dir: Path | None):
        self.model = model
        self.prompt_tokens = prompt_tokens
        self.output_tokens = output_tokens
        self.temperature = temperature
        self.nonce = uuid.uuid4().hex
        self.tokenizer = _tokenizer(model_dir)
        self.eos_ids = _eos_ids(model_dir) if self.tokenizer is not None else []
        special = set(self.tokenizer.get_added_tokens_decoder()) if self.tokenizer is not None else set()
        self.ordinary = ([token for token in range(self.tokenizer.get_vocab_size()) if token not in special]
                         if self.tokenizer is not None else [])

    @property
    def eos_suppression(self) -> str:
        return "ignore_eos+logit_bias" if self.eos_ids else "ignore_eos (if the server supports it)"

    def body(self, salt: str) -> dict:
        body = {"model": self.model, "messages": [{"role": "user", "content": self.prompt(salt)}],
                "max_tokens": self.output_tokens, "temperature": self.temperature, "ignore_eos": True}
        if self.eos_ids:
            body["logit_bias"] = {str(token): EOS_BIAS for token in self.eos_ids}
        return body

    def prompt(self, salt: str) -> str:
        generator = random.Random(f"{self.nonce}-{salt}")
        if self.tokenizer is None:
            return " ".join(f"w{generator.randrange(100_000)}" for _ in range(self.prompt_tokens))
        ids = [generator.choice(self.ordinary) for _ in range(self.prompt_tokens)]
        text = self.tokenizer.decode(ids)
        for _ in range(8):  # decoded random tokens may merge or split when encoded again
            encoded = self.tokenizer.encode(text, add_special_tokens=False).ids
            if len(encoded) == self.prompt_tokens:
                break
            if len(encoded) > self.prompt_tokens:
                encoded = encoded[: self.prompt_tokens]
            else:
                encoded += [generator.choice(self.ordinary) for _ in range(self.prompt_tokens - len(encoded))]
            text = self.tokenizer.decode(encoded)
        return text

    @property
    def count_tokens(self):
        """Counts the tokens of a text with the model's tokenizer; None without one."""
        if self.tokenizer is None:
            return None
        return lambda text: len(self.tokenizer.encode(text, add_special_tokens=False).ids)


def _tokenizer(model_dir: Path | None):
    if model_dir is None or not (model_dir / "tokenizer.json").is_file():
        return None
    from tokenizers import Tokenizer

    return Tokenizer.from_file(str(model_dir / "tokenizer.json"))


def _eos_ids(model_dir: Path) -> list[int]:
    ids: set[int] = set()
    for name in ("config.json", "generation_config.json"):
        try:
            value = json.loads((model_dir / name).read_text()).get("eos_token_id")
        except (OSError, ValueError, AttributeError):
            continue
        ids.update(value if isinstance(value, list) else [value] if isinstance(value, int) else [])
    return sorted(ids)
