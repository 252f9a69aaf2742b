"""pytest-mlxbench: LLM benchmarks as pytest tests.

The public suite API (see README "Writing a suite")::

    pytestmark = pytest_mlxbench.suite("tool-calling")   # the suite marker (names may hold hyphens)
    pytest_mlxbench.wrong_answer("wrong_value", detail)  # a model's miss: shown as xfail, counted
    pytest_mlxbench.result_row(name, metric, value, unit, tags, **fields)  # a row for bench_summarize
    pytest_mlxbench.get_settings(config)                 # the run's options, e.g. in pytest_generate_tests
    pytest_mlxbench.ask(client, endpoint, request)       # one timed chat completion (a failure fails the test)

Everything heavy (mlx, the openai SDK) is imported only when used.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .backends.chat import Completion
    from .settings import Settings

__version__ = "0.1.0"
__all__ = ["ask", "get_settings", "result_row", "suite", "suite_names", "wrong_answer"]


def suite_names() -> tuple[str, ...]:
    """The eleven suite names of envelope v1."""
    from .envelope import suite_names as names

    return names()


def suite(name: str) -> pytest.MarkDecorator:
    """The marker of a benchmark suite, by its schema name (e.g. ``"tool-calling"``). An unknown
    name stops collection of that file with one line listing the names."""
    if name not in suite_names():
        raise pytest.Collector.CollectError(f"unknown suite {name!r}: use one of {', '.join(suite_names())}")
    return getattr(pytest.mark, name)


def wrong_answer(kind: str, detail: str = "") -> None:
    """End the current test as a model miss: a measurement, not a broken harness. It shows as
    xfail with its failure kind, and does not make pytest exit non-zero (thresholds decide CI)."""
    pytest.xfail(f"{kind}: {detail}" if detail else kind)


def result_row(name: str, metric: str, value: float, unit: str, tags: dict | None = None, **fields) -> dict:
    """One envelope result row (for ``bench_summarize``); tag values become strings."""
    from .suites.rows import result_row as row

    return row(name, metric, value, unit, tags or {}, **fields)


def get_settings(config: pytest.Config) -> Settings:
    """The run's Settings (options and ini keys), e.g. for ``pytest_generate_tests`` in a suite."""
    from .session import BENCH_SESSION

    return config.stash[BENCH_SESSION].settings


def ask(client, endpoint, request: dict, on_failure: Callable[[str], None] | None = None) -> Completion:
    """Send one chat completion (``client.chat.completions.create(**request)``) and time it. A
    failed request fails the test with one line: a harness error, never a model miss;
    ``on_failure(reason)`` runs first (e.g. to record the failed case in the sample log)."""
    from .backends.chat import RequestFailed, complete

    try:
        return complete(client, endpoint, request)
    except RequestFailed as error:
        failure = str(error)
    if on_failure is not None:
        on_failure(failure)
    pytest.fail(f"request failed (harness error, not a model miss): {failure}", pytrace=False)
