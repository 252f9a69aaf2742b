"""Reading written envelopes and checking them against the shared contract (not our copy)."""

from __future__ import annotations

import json
from pathlib import Path

from jsonschema import Draft7Validator

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
CONTRACT = SHARED / "schema" / "envelope-v1.json"


def contract_errors(envelope: dict) -> list[str]:
    """Validation errors against the shared contract (not our copy of it), formats checked."""
    validator = Draft7Validator(json.loads(CONTRACT.read_text()), format_checker=Draft7Validator.FORMAT_CHECKER)
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


def rows_by_name(envelope: dict) -> dict[str, dict]:
    return {row["name"]: row for row in envelope["results"]}
