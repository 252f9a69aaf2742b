"""Shared fixtures of the project's tests: paths, the contract schema, the tiny model, a real server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# The agent-framework extra pulls in langsmith, whose pytest plugin costs ~0.7 s of CPU at every
# pytest start; the hundreds of pytest subprocesses these tests run never use it. (pytester clears
# PYTEST_ADDOPTS for its runs, hence the fixture as well.)
LEAN_SUBPROCESS_OPTIONS = "-p no:langsmith_plugin"
os.environ["PYTEST_ADDOPTS"] = f"{os.environ.get('PYTEST_ADDOPTS', '')} {LEAN_SUBPROCESS_OPTIONS}".strip()

# When these tests run under pytest-xdist (`-n 2`), the pytest runs they start are not workers:
# pytest-benchmark, for one, would read the inherited variables and switch itself off.
for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
    os.environ.pop(name, None)


@pytest.fixture(scope="session", autouse=True)
def _native_modules_loaded_once():
    """numpy and mlx load before any pytester fixture snapshots ``sys.modules``: its restore would
    drop a copy imported inside a test, and the next import fails ("cannot load module more than
    once per process"), whatever order the tests run in."""
    import mlx.core  # noqa: F401
    import numpy  # noqa: F401


@pytest.fixture(autouse=True)
def _lean_pytest_subprocesses(request):
    if "pytester" in request.fixturenames:
        request.getfixturevalue("pytester")
        request.getfixturevalue("monkeypatch").setenv("PYTEST_ADDOPTS", LEAN_SUBPROCESS_OPTIONS)


@pytest.fixture(scope="session")
def tiny_model_dir() -> Path:
    from pytest_mlxbench.backends.tinymodel import ensure_tiny_model

    return ensure_tiny_model()


@pytest.fixture(scope="session")
def variant_model_dir(tmp_path_factory) -> Path:
    """A second tiny model, with other weights. Session-scoped, so mlx is imported before any
    pytester fixture snapshots ``sys.modules`` (its restore would make mlx load twice: an abort)."""
    from support.variant_model import variant_model

    return variant_model(tmp_path_factory.mktemp("variant") / "variant")


@pytest.fixture(scope="session")
def running_server(tiny_model_dir, tmp_path_factory):
    """A real mlx_lm.server on the tiny model, started the way users start theirs."""
    from pytest_mlxbench.backends.server import ManagedServer

    log = tmp_path_factory.mktemp("server") / "server.log"
    server = ManagedServer(tiny_model_dir, log).start()
    yield server
    server.stop()


@pytest.fixture
def envelope():
    """Build an envelope and check it against the shared contract, so test data cannot drift from it."""
    from support.contract import contract_errors

    def build(suite: str, results: list[dict], **fields) -> dict:
        data = {
            "schema_version": "1",
            "timestamp": "2026-05-01T12:00:00Z",
            "git_sha": "0123abc",
            "trigger": "local",
            "suite": suite,
            "model": "tiny-llama-h64",
            "quantization": "none",
            "seed": 0,
            "gen_kwargs": {"max_gen_toks": 64, "temperature": 0.0},
            "system": {"os": "Linux 6.1", "chip": "x86_64", "memory_gb": 24, "python_version": "3.11.7", "mlx_version": "0.32.4"},
            "results": results,
            "memory_snapshots": [{"phase": "peak", "rss_gb": 0.31}],
            "errors": [],
            **fields,
        }
        assert contract_errors(data) == []
        return data

    return build
