"""The envelope contract: our schema copy is the shared one, and validation really checks formats."""

import copy
import json
from pathlib import Path

from support.contract import PROJECT_SCHEMA, contract_errors, require_contract

from pytest_mlxbench import envelope

VALID = {
    "schema_version": "1",
    "timestamp": "2026-11-27T14:00:00Z",
    "git_sha": "a" * 40,
    "trigger": "local",
    "suite": "throughput",
    "model": "mlxbench/tiny-llama",
    "system": {"os": "Linux", "chip": "x86_64", "memory_gb": 24},
    "results": [{"name": "decode_128", "metric": "decode_throughput", "value": 900.0, "unit": "tok/s"}],
}


def test_project_schema_is_identical_to_the_contract():
    assert not PROJECT_SCHEMA.is_symlink()
    assert PROJECT_SCHEMA.read_bytes() == require_contract().read_bytes()


def test_the_package_validates_with_the_schema_it_ships():
    shipped = envelope.schema_path()
    assert not shipped.is_symlink() and shipped.is_relative_to(Path(envelope.__file__).parent)
    assert shipped.read_bytes() == PROJECT_SCHEMA.read_bytes()
    assert envelope.schema() == json.loads(PROJECT_SCHEMA.read_text())


def test_a_valid_envelope_passes():
    assert envelope.validation_errors(VALID) == []
    assert contract_errors(VALID) == []


def test_a_timestamp_that_is_not_a_date_time_fails():
    broken = {**VALID, "timestamp": "yesterday"}
    errors = envelope.validation_errors(broken)
    assert len(errors) == 1 and errors[0].startswith("$.timestamp:") and "date-time" in errors[0]


def test_every_violation_is_listed_with_its_path():
    broken = copy.deepcopy(VALID)
    broken["git_sha"] = "not-a-sha"
    broken["results"][0]["value"] = "fast"
    broken["results"][0]["colour"] = "red"
    del broken["system"]["chip"]
    errors = envelope.validation_errors(broken)
    assert len(errors) == 4
    assert any(error.startswith("$.git_sha:") for error in errors)
    assert any(error.startswith("$.results[0].value:") for error in errors)
    assert any(error.startswith("$.results[0]:") and "colour" in error for error in errors)
    assert any(error.startswith("$.system:") and "chip" in error for error in errors)


def test_the_suite_names_are_the_schema_enum():
    assert envelope.suite_names() == tuple(json.loads(PROJECT_SCHEMA.read_text())["properties"]["suite"]["enum"])
    assert len(envelope.suite_names()) == 11
