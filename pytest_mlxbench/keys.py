"""Typed keys for the plugin's state in ``config.stash``."""

import pytest

from .session import BenchSession

BENCH_SESSION = pytest.StashKey[BenchSession]()
