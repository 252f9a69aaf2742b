"""Hooks a conftest.py can implement to add to what the envelopes say."""

import pytest


@pytest.hookspec
def pytest_mlxbench_update_system(system: dict) -> None:
    """Add or change fields of the envelope's ``system`` object (e.g. ``runner``), in place."""


@pytest.hookspec
def pytest_mlxbench_update_envelope(envelope: dict) -> None:
    """Change an envelope in place just before it is validated and written."""
