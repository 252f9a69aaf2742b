"""Envelope files: atomic, never-overwriting writes, and reading envelopes back (baselines, the
newest envelope per suite and model)."""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from . import envelope as contract
from .errors import BenchInputError


def slug(text: str, limit: int = 60) -> str:
    """A file-name-safe short form of a model name or path."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", text.strip("/")).strip("-.")
    return cleaned[-limit:] or "model"


def envelope_stem(envelope: dict) -> str:
    """time_sha_suite_model: the file name of an envelope (also of an invalid one)."""
    try:
        started = datetime.fromisoformat(str(envelope.get("timestamp")).replace("Z", "+00:00"))
        stamp = started.strftime("%Y%m%dT%H%M%SZ")
    except ValueError:
        stamp = "bad-timestamp"
    parts = (stamp, str(envelope.get("git_sha"))[:12], str(envelope.get("suite")), str(envelope.get("model")))
    return "_".join(slug(part) for part in parts)


def write_envelope(envelope: dict, out_dir: Path) -> Path:
    """Write atomically under a name no earlier run holds; returns the path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    data = json.dumps(envelope, indent=2, sort_keys=False, ensure_ascii=False) + "\n"
    return _publish(out_dir, envelope_stem(envelope), ".json", data)


def write_lines(out_dir: Path, stem: str, suffix: str, records: list[dict]) -> Path:
    data = "".join(json.dumps(record, ensure_ascii=False, default=str) + "\n" for record in records)
    return _publish(out_dir, stem, suffix, data)


def _publish(out_dir: Path, stem: str, suffix: str, data: str) -> Path:
    """Write to a temporary file, then hard-link it to the first free name: never a partial
    file, never an overwrite, even when two sessions finish in the same second."""
    fd, tmp_name = tempfile.mkstemp(dir=out_dir, prefix=".tmp-", suffix=suffix)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        for attempt in range(1, 1000):
            target = out_dir / (f"{stem}{suffix}" if attempt == 1 else f"{stem}-{attempt}{suffix}")
            try:
                os.link(tmp_name, target)
                return target
            except FileExistsError:
                continue
        raise FileExistsError(f"no free file name for {stem}{suffix} in {out_dir}")
    finally:
        os.unlink(tmp_name)


def load_envelopes(path: str | Path) -> list[dict]:
    """Envelopes of a file, or of a directory (``*.json``, recursively): newest per (suite, model)."""
    return newest_per_suite_model(_envelopes_at(Path(path)))


def load_baseline(path: str | Path) -> list[dict]:
    """Baseline envelopes: like ``load_envelopes``, but a skipped suite run is never a baseline."""
    return newest_per_suite_model(env for env in _envelopes_at(Path(path)) if not env.get("skipped"))


def _envelopes_at(path: Path) -> list[dict]:
    return [envelope for _, envelope in envelope_files(path)]


def envelope_files(path: str | Path) -> list[tuple[Path, dict]]:
    """Every envelope of a file or directory (recursively; ``*.invalid.json`` left out), each with
    its file, in file-name order."""
    path = Path(path)
    if path.is_dir():
        # the plugin keeps envelopes that broke the contract as *.invalid.json: never results
        files = sorted(file for file in path.rglob("*.json") if not file.name.endswith(".invalid.json"))
        if not files:
            raise BenchInputError(f"no envelope (*.json) in directory {path}; point to a results directory")
    elif path.exists():
        files = [path]
    else:
        raise BenchInputError(f"{path} does not exist; give an envelope file or a directory of them")
    return [(file, _read_envelope(file)) for file in files]


def newest_per_suite_model(envelopes: Iterable[dict]) -> list[dict]:
    """For each (suite, model), the envelope with the latest timestamp (input order breaks ties)."""
    newest: dict[tuple[str, str], dict] = {}
    for envelope in envelopes:
        key = (envelope["suite"], envelope["model"])
        if key not in newest or _timestamp(envelope) >= _timestamp(newest[key]):
            newest[key] = envelope
    return sorted(newest.values(), key=lambda env: (env["suite"], env["model"]))


def _read_envelope(file: Path) -> dict:
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BenchInputError(f"cannot read {file}: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BenchInputError(f"{file}: not valid JSON ({exc}); give a pytest-mlxbench envelope") from None
    problems = contract.validation_errors(data) if isinstance(data, dict) else ["$: not a JSON object"]
    if problems:
        raise BenchInputError(f"{file}: not a valid result envelope ({problems[0]}); give a pytest-mlxbench envelope")
    return data


def _timestamp(envelope: dict) -> datetime:
    moment = datetime.fromisoformat(envelope["timestamp"].replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
