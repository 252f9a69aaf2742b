"""``code_sandbox``: the session's pool of sandbox workers, one per CPU, shared by every suite that
runs model-written code (code-accuracy, coding, evalplus). The plugin registers this module, so a
run of all three starts one pool, and a suite of your own gets the same fixture."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def code_sandbox():
    """One pool of sandbox workers for the whole session, closed at its end; a sandbox that cannot
    start fails the tests using it with one line (a harness error)."""
    from pytest_mlxbench.sandbox import Sandbox

    try:
        sandbox = Sandbox()
    except (OSError, RuntimeError) as error:
        problem = f"the code sandbox could not start (harness error): {error}"
    else:
        problem = None
    if problem is not None:  # outside the except block: one line, no chained traceback
        pytest.fail(problem, pytrace=False)
    with sandbox:
        yield sandbox
