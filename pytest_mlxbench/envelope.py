"""The result envelope: schema validation, file naming and atomic, never-overwriting writes."""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from datetime import datetime
from functools import lru_cache
from pathlib import Path

SCHEMA_PATH = Path(__file__).with_name("envelope-v1.json")
SCHEMA_VERSION = "1"


@lru_cache(maxsize=1)
def schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text())


def suite_names() -> tuple[str, ...]:
    return tuple(schema()["properties"]["suite"]["enum"])


@lru_cache(maxsize=1)
def _validator():
    from jsonschema import Draft7Validator

    return Draft7Validator(schema(), format_checker=Draft7Validator.FORMAT_CHECKER)


def validation_errors(envelope: dict) -> list[str]:
    """Every way the envelope breaks the contract, as 'path: message' lines (empty when valid)."""
    errors = sorted(_validator().iter_errors(envelope), key=lambda error: list(error.absolute_path))
    return [f"{_json_path(error.absolute_path)}: {error.message}" for error in errors]


def _json_path(parts) -> str:
    return "$" + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in parts)


@lru_cache(maxsize=1)
def _row_validator():
    from jsonschema import Draft7Validator

    return Draft7Validator(schema()["properties"]["results"]["items"])


def check_result_row(row: dict) -> None:
    """Reject a result row where it is recorded, where the mistake is easy to find, rather than
    at session end. Booleans are refused as numbers, and so are NaN and infinity."""
    problems = [f"{_json_path(error.absolute_path)}: {error.message}" for error in _row_validator().iter_errors(row)]
    for key, value in row.items():
        if isinstance(value, bool):
            problems.append(f"$.{key}: give a number, not a bool (use 1.0/0.0 with unit 'bool')")
        elif isinstance(value, float) and not math.isfinite(value):
            problems.append(f"$.{key}: {value!r} is not a finite number; JSON cannot hold it")
    if problems:
        raise ValueError(f"result row {row.get('name')!r} breaks the envelope schema: " + "; ".join(problems))


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
