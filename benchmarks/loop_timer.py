"""A pytest plugin for benchmarks (``-p loop_timer``): writes the wall time of pytest's run-test
loop (first item started to last item finished, without start-up, collection and the envelope
writing at session end) to the file named by ``MLXBENCH_LOOP_TIMER``."""

import os
import time

import pytest


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session):
    started = time.perf_counter()
    try:
        return (yield)
    finally:
        with open(os.environ["MLXBENCH_LOOP_TIMER"], "w") as out:
            out.write(repr(time.perf_counter() - started))
