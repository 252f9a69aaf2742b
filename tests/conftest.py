"""Shared fixtures of the project's tests: paths, the contract schema, the tiny model, a real server."""

from __future__ import annotations

from pathlib import Path

import pytest

@pytest.fixture(scope="session")
def tiny_model_dir() -> Path:
    from pytest_mlxbench.tinymodel import ensure_tiny_model

    return ensure_tiny_model()


@pytest.fixture(scope="session")
def running_server(tiny_model_dir, tmp_path_factory):
    """A real mlx_lm.server on the tiny model, started the way users start theirs."""
    from pytest_mlxbench.server import ManagedServer

    log = tmp_path_factory.mktemp("server") / "server.log"
    server = ManagedServer(tiny_model_dir, log).start()
    yield server
    server.stop()
