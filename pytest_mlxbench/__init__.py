"""pytest-mlxbench: LLM benchmarks as pytest tests.

Suite files use two helpers from here::

    pytestmark = pytest_mlxbench.suite("tool-calling")   # the suite marker (names may hold hyphens)
    pytest_mlxbench.wrong_answer("wrong_value", detail)  # a model's miss: shown as xfail, counted
"""

from __future__ import annotations

import pytest

__version__ = "0.1.0"


def suite(name: str) -> pytest.MarkDecorator:
    """The marker of a benchmark suite, by its schema name (e.g. ``"tool-calling"``)."""
    from .envelope import suite_names

    if name not in suite_names():
        raise ValueError(f"unknown suite {name!r}: use one of {', '.join(suite_names())}")
    return getattr(pytest.mark, name)


def wrong_answer(kind: str, detail: str = "") -> None:
    """End the current test as a model miss: a measurement, not a broken harness. It shows as
    xfail with its failure kind, and does not make pytest exit non-zero (thresholds decide CI)."""
    pytest.xfail(f"{kind}: {detail}" if detail else kind)


def get_settings(config: pytest.Config):
    """The run's Settings (options and ini keys), e.g. for ``pytest_generate_tests`` in a suite."""
    from .session import BENCH_SESSION

    return config.stash[BENCH_SESSION].settings
