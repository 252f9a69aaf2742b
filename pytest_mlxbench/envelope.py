"""The result envelope: the schema (package data) and validation; storage.py writes and reads envelopes."""

from __future__ import annotations

import json
import math
import numbers
from functools import lru_cache
from importlib import resources
from pathlib import Path

SCHEMA_VERSION = "1"


@lru_cache(maxsize=1)
def schema() -> dict:
    return json.loads(schema_path().read_text(encoding="utf-8"))


def schema_path() -> Path:
    """The envelope v1 schema shipped inside the package (identical to the top-level schema/v1.json)."""
    return Path(str(resources.files("pytest_mlxbench") / "schema" / "v1.json"))


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


def result_row_problems(row: dict) -> list[str]:
    """Every way a result row breaks the schema. Booleans are refused as numbers, and so are NaN
    and infinity."""
    problems = [f"{_json_path(error.absolute_path)}: {error.message}" for error in _row_validator().iter_errors(row)]
    for key, value in row.items():
        if isinstance(value, bool):
            problems.append(f"$.{key}: give a number, not a bool (use 1.0/0.0 with unit 'bool')")
        elif isinstance(value, float) and not math.isfinite(value):
            problems.append(f"$.{key}: {value!r} is not a finite number; JSON cannot hold it")
    return problems


def check_result_row(row: dict) -> None:
    """Reject a result row where it is recorded, where the mistake is easy to find, rather than
    at session end."""
    problems = result_row_problems(row)
    if problems:
        raise ValueError(f"result row {row.get('name')!r} breaks the envelope schema: " + "; ".join(problems))


def plain_row(row: dict) -> dict:
    """A result row as the envelope holds it: numpy and mlx scalars as Python numbers, tag values
    as strings."""
    row = {str(key): plain_number(value) for key, value in row.items()}
    if isinstance(row.get("tags"), dict):
        row["tags"] = {str(key): str(tag) for key, tag in row["tags"].items()}
    return row


def plain_number(value):
    """numpy and mlx scalars become Python numbers; everything else is left to the schema check."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return value
    return int(value) if isinstance(value, numbers.Integral) else float(value)
