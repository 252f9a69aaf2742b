"""Reading written envelopes and checking them against the shared contract.

The contract is ``../shared/schema/envelope-v1.json`` beside the checkout. Where it is absent (a
clone with nothing beside it), the project's top-level ``schema/v1.json`` stands in: the test
that compares the two bytes runs wherever the contract exists, and must run under CI.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from jsonschema import Draft7Validator

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("MLXBENCH_SHARED_DIR") or ROOT.parent / "shared").resolve()  # CI points a wheel test here
CONTRACT = SHARED / "schema" / "envelope-v1.json"
PROJECT_SCHEMA = ROOT / "schema" / "v1.json"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def contract_path() -> Path:
    return CONTRACT if CONTRACT.is_file() else PROJECT_SCHEMA


def shared_dataset(*parts: str) -> Path:
    """A path under ../shared/datasets; skips the test (fails it under CI) when it is not there."""
    path = SHARED.joinpath("datasets", *parts)
    if not path.exists():
        message = f"{path} is not beside this checkout (the shared datasets)"
        if IN_CI:
            pytest.fail(f"{message}: CI must run this test", pytrace=False)
        pytest.skip(message)
    return path


def require_contract() -> Path:
    if not CONTRACT.is_file():
        message = f"{CONTRACT} is not beside this checkout"
        if IN_CI:
            pytest.fail(f"{message}: CI must compare the schema with it", pytrace=False)
        pytest.skip(message)
    return CONTRACT


def contract_errors(envelope: dict) -> list[str]:
    """Validation errors against the shared contract (not our copy of it), formats checked."""
    validator = Draft7Validator(json.loads(contract_path().read_text()), format_checker=Draft7Validator.FORMAT_CHECKER)
    return [f"{list(error.absolute_path)}: {error.message}" for error in validator.iter_errors(envelope)]


def read_envelopes(out_dir: Path) -> dict[str, dict]:
    """The envelopes written to out_dir, by suite; each checked against the contract."""
    envelopes = {}
    for path in sorted(out_dir.glob("*.json")):
        if path.name.endswith(".invalid.json"):
            continue
        envelope = json.loads(path.read_text())
        assert contract_errors(envelope) == [], path
        envelopes[envelope["suite"]] = envelope
    return envelopes


def samples_of(out_dir: Path, suite: str) -> list[dict]:
    """The sample log one suite wrote to out_dir, one dict per line."""
    [log] = out_dir.glob(f"*_{suite}_*.samples.jsonl")
    return [json.loads(line) for line in log.read_text().splitlines()]


def rows_by_name(envelope: dict) -> dict[str, dict]:
    return {row["name"]: row for row in envelope["results"]}


def require_extra(module: str, install: str):
    """Import an optional package a test needs; skip with the install command where it is missing,
    but fail under CI=true, where every extra is installed."""
    try:
        return __import__(module)
    except ImportError:
        message = f"{module} is not installed: {install}"
        if IN_CI:
            pytest.fail(f"{message} (CI installs every extra)", pytrace=False)
        pytest.skip(message)


def skip_or_fail_in_ci(reason: str) -> None:
    """Skip where an optional part is missing; under CI=true, where it must be there, fail."""
    if IN_CI:
        pytest.fail(f"{reason} (CI installs every extra)", pytrace=False)
    pytest.skip(reason)
