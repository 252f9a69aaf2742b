"""The models of a run: ``--mlx-model`` entries (repeatable) parsed into ``ModelSpec``s.

An entry is a local model (an mlx-lm directory, a ``.gguf`` file, ``smollm2-135m``, a Hugging
Face id, or ``mlxbench/tiny-llama``, the built-in tiny model), ``NAME=URL`` (the model NAME served
by the OpenAI-compatible server at URL), or, with ``--mlx-base-url``, any model id that server
lists. No entry means the built-in tiny model. Each spec gets a short label, unique in the run,
that test ids carry as ``model-<label>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import BenchInputError
from .endpoint import check_http_url
from .models import check_model_reference, display_name

TINY_LABEL = "tiny-llama"
_URL_ENTRY = re.compile(r"^(?P<name>[^=]+)=(?P<url>https?://.+)$")


@dataclass(frozen=True)
class ModelSpec:
    """One model under test.

    ``reference`` is the local reference (absolute path or hub id; None for the built-in tiny
    model) or, when ``local`` is False, the model id to request from the server. ``base_url`` is
    the server of a ``NAME=URL`` entry (None: --mlx-base-url or the managed server).
    """

    reference: str | None
    label: str
    base_url: str | None = None
    local: bool = True

    @property
    def is_tiny(self) -> bool:
        return self.reference is None

    @property
    def name(self) -> str:
        """The model's name in envelopes (no home-directory paths)."""
        if self.reference is None:
            from .tinymodel import TINY_MODEL_NAME

            return TINY_MODEL_NAME
        return self.reference if not self.local else display_name(self.reference)

    def __str__(self) -> str:
        return self.label


def parse_models(entries: list[str], origin: Path, base_urls: tuple[str, ...]) -> tuple[ModelSpec, ...]:
    """The run's models from the --mlx-model entries (relative paths from ``origin``)."""
    from .tinymodel import TINY_MODEL_NAME

    specs, seen = [], set()
    for entry in entries or [TINY_MODEL_NAME]:
        if entry in seen:
            raise BenchInputError(f"--mlx-model {entry} is given twice: give each model once")
        seen.add(entry)
        specs.append(_parse_entry(entry, origin, base_urls))
    return tuple(_with_unique_labels(specs))


def _parse_entry(entry: str, origin: Path, base_urls: tuple[str, ...]) -> ModelSpec:
    from .tinymodel import TINY_MODEL_NAME

    if entry in (TINY_MODEL_NAME, TINY_LABEL):
        return ModelSpec(None, TINY_LABEL)
    served = _URL_ENTRY.match(entry)
    if served:
        name = served["name"].strip()
        return ModelSpec(name, _label(name), check_http_url(served["url"].strip(), f"--mlx-model {name}="), local=False)
    candidate = origin / Path(entry).expanduser()
    try:
        reference = check_model_reference(str(candidate) if candidate.exists() else entry)
    except BenchInputError:
        if not base_urls:
            raise
        return ModelSpec(entry, _label(entry), local=False)  # a model id the server lists
    return ModelSpec(reference, _label(display_name(reference)))


def _label(name: str) -> str:
    """A short, id-safe form of a model name: its last path part, without .gguf."""
    last = name.rstrip("/").rsplit("/", 1)[-1].removesuffix(".gguf")
    return re.sub(r"[^A-Za-z0-9._]+", "_", last).strip("_.") or "model"


def _with_unique_labels(specs: list[ModelSpec]) -> list[ModelSpec]:
    used: set[str] = set()
    unique = []
    for spec in specs:
        label, number = spec.label, 1
        while label in used:
            number += 1
            label = f"{spec.label}_{number}"
        used.add(label)
        unique.append(ModelSpec(spec.reference, label, spec.base_url, spec.local))
    return unique
