"""Serving under load: a concurrency and request-rate sweep through an OpenAI-compatible server,
with vLLM ``bench serve``'s metric definitions (see ``pytest_mlxbench.suites.serving.metrics``).

Each point (``--load-concurrency 1,4,16``: closed loop; ``--load-rate 2,8``: Poisson arrivals;
without either the sweep is skipped with that hint, except on the built-in tiny model: 1,4)
sends ``--load-requests`` requests (or runs ``--load-duration`` seconds) of random-token prompts
through the streaming measurement client (``pytest_mlxbench.client``). A point runs once and
feeds two tests, one per suite: ``test_serving_throughput`` records request, output and total
token throughput, goodput, failed and truncated requests and the server's peak RSS in the
``throughput`` suite (``mode=server`` tags); ``test_serving_latency`` records TTFT, TPOT, ITL and
E2EL (mean, median, p90, p99) in the ``ttft`` suite. A test belongs to one suite, so a run
selected with ``-m throughput`` writes the throughput rows only (their tags carry the median TTFT
and TPOT); ``-m "throughput or ttft"`` writes both.

Failed and truncated requests are counted in rows and noted in the envelope; a point where every
request failed is a harness error. A client near a full core or with event-loop lag past 3 ms
tags its rows ``client_saturated=true`` and warns.
"""

import warnings

import pytest

import pytest_mlxbench
from pytest_mlxbench.suites.serving.workload import load_points

NO_POINTS = ("the serving sweep runs when asked for: give --load-concurrency N,N,.. (e.g. 1,4,16) or "
             "--load-rate R,R,..")


def pytest_generate_tests(metafunc):
    if "load_point" in metafunc.fixturenames:
        points = load_points(pytest_mlxbench.get_settings(metafunc.config))
        if not points:  # one skipped case says how to ask for the sweep
            metafunc.parametrize("load_point", [pytest.param(None, marks=pytest.mark.skip(reason=NO_POINTS))],
                                 ids=["no-load-points"])
            return
        metafunc.parametrize("load_point", points, ids=[point.id for point in points])


@pytest.fixture(scope="module")
def load_sweep(mlx_endpoint, mlxbench_settings, mlxbench_model):
    from pytest_mlxbench.suites.serving.loadgen import (
        Sweep,  # the load generator: not at collection
    )

    return Sweep(mlx_endpoint, mlxbench_settings, mlxbench_model.reference)


def measured_point(load_sweep, load_point, mlx_endpoint, record_note, record_gen_kwargs):
    mlx_endpoint.check_alive()
    record_gen_kwargs(max_gen_toks=load_sweep.workload.output_tokens, temperature=load_sweep.settings.temperature)
    run, fresh = load_sweep.run(load_point)
    from pytest_mlxbench.suites.serving.rows import point_notes

    for note in point_notes(run):
        record_note(note)
        if fresh and "client_saturated" in note:
            warnings.warn(note, stacklevel=1)
    return run


def fail_if_nothing_answered(run):
    if run.metrics.completed == 0:
        first = next((record.error for record in run.records), "no requests were sent")
        pytest.fail(f"point {run.point.id}: none of {run.metrics.requests} requests completed "
                    f"(harness error): {first}", pytrace=False)


@pytest_mlxbench.suite("throughput")
def test_serving_throughput(load_point, load_sweep, mlx_endpoint, record_metric, record_sample, record_note,
                            record_gen_kwargs):
    run = measured_point(load_sweep, load_point, mlx_endpoint, record_note, record_gen_kwargs)
    from pytest_mlxbench.suites.serving.rows import throughput_rows

    for row in throughput_rows(run, load_sweep.context(), load_sweep.settings.load_slo):
        record_metric(**row)
    for index, record in enumerate(run.records):
        record_sample({"point": load_point.id, "request": index, "outcome": record.outcome,
                       "ttft_ms": record.ttft_s * 1000 if record.ttft_s is not None else None,
                       "e2el_ms": record.e2el_s * 1000 if record.e2el_s is not None else None,
                       "tpot_ms": record.tpot_s * 1000 if record.tpot_s is not None else None,
                       "output_tokens": record.output_tokens, "input_tokens": record.input_tokens,
                       "finish_reason": record.finish_reason, "error": record.error})
    fail_if_nothing_answered(run)


@pytest_mlxbench.suite("ttft")
def test_serving_latency(load_point, load_sweep, mlx_endpoint, record_metric, record_note, record_gen_kwargs):
    run = measured_point(load_sweep, load_point, mlx_endpoint, record_note, record_gen_kwargs)
    from pytest_mlxbench.suites.serving.rows import latency_rows

    for row in latency_rows(run, load_sweep.context()):
        record_metric(**row)
    fail_if_nothing_answered(run)
