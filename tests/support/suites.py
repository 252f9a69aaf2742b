"""Loading a bench suite's module in a test, to reuse its own request building and helpers."""

from __future__ import annotations

import importlib.util
from types import ModuleType

from support.contract import ROOT


def load_suite(file_name: str) -> ModuleType:
    """The module of ``bench_suites/<file_name>``, loaded under a name of its own."""
    path = ROOT / "bench_suites" / file_name
    spec = importlib.util.spec_from_file_location(f"{path.stem}_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
