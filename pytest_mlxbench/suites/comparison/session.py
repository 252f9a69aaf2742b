"""The capability-comparison envelope of a session: this run's models (and --bench-compare's
earlier runs) compared, built on the controller with the other envelopes."""

from __future__ import annotations

from pathlib import Path

from pytest_mlxbench import envelope as env
from pytest_mlxbench.gitinfo import suite_code_sha
from pytest_mlxbench.suites.comparison.compare import compare_runs
from pytest_mlxbench.suites.comparison.runs import (
    COMPARISON_SUITE,
    THIS_RUN,
    ModelRun,
    SuiteRun,
    cases_by_id,
    earlier_runs,
)

ABOUT = ("comparison: each model against the first ({reference}) on the same cases; pass rates by McNemar's "
         "exact test, repeats and requests by a paired bootstrap (10,000 resamples); 95% intervals; a "
         "difference whose interval holds 0 is 'no detectable difference', never a win")


def comparison_suite(bench, system: dict) -> list:
    """[the comparison's BuiltSuite] when several models ran or earlier runs are given, else []."""
    from pytest_mlxbench.session import BuiltSuite

    try:
        runs = this_runs(bench) + earlier_runs(getattr(bench.settings, "compare_dirs", None) or ())
        if len(runs) < 2:
            return []
        comparison = compare_runs(runs)
    except Exception as error:  # the envelopes of the suites are still written; this fails the run
        problem = f"capability-comparison failed (harness error): {type(error).__name__}: {error}"
        envelope = _envelope(bench, system, "not compared", [], [*bench.session_notes, problem])
        return [BuiltSuite(COMPARISON_SUITE, {**envelope, "skipped": True}, [], [problem])]
    notes = [ABOUT.format(reference=runs[0].label),
             *(f"compared with an earlier run: {run.label}, from {run.source}" for run in runs if run.earlier),
             *comparison.notes]
    envelope = _envelope(bench, system, " vs ".join(run.label for run in runs), comparison.rows,
                         [*bench.session_notes, *notes])
    gen_kwargs = [data.envelope.get("gen_kwargs") for run in runs for data in run.suites.values()]
    if gen_kwargs and all(kwargs == gen_kwargs[0] for kwargs in gen_kwargs) and gen_kwargs[0]:
        envelope["gen_kwargs"] = gen_kwargs[0]
    if bench.hook is not None:
        bench.hook.pytest_mlxbench_update_envelope(envelope=envelope)
    return [BuiltSuite(COMPARISON_SUITE, envelope, comparison.samples)]


def _envelope(bench, system: dict, model: str, rows: list[dict], errors: list[str]) -> dict:
    """The comparison's envelope; its commit is that of this run's suites (else of this code)."""
    sha = next((suite.envelope["git_sha"] for suite in bench.built if suite.suite != COMPARISON_SUITE), None)
    if sha is None:
        sha, notes = suite_code_sha(Path(__file__))
        errors = [*errors, *notes]
    return {
        "schema_version": env.SCHEMA_VERSION,
        "timestamp": bench.started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "git_sha": sha,
        "trigger": bench.settings.ci.trigger,
        "pr_number": bench.settings.ci.pr_number,
        "suite": COMPARISON_SUITE,
        "model": model,
        "seed": bench.settings.seed,
        "system": dict(system),
        "results": rows,
        "errors": errors,
    }


def this_runs(bench) -> list[ModelRun]:
    """This session's models, in --mlx-model order, each with the envelopes built for it."""
    runs = []
    for spec in bench.settings.models:
        mine = [suite for suite in bench.built if suite.suite != COMPARISON_SUITE
                and (suite.model == spec.label or (suite.model is None and len(bench.settings.models) == 1))]
        if not mine:
            continue
        suites = {suite.suite: SuiteRun(suite.envelope, cases_by_id(suite.cases) if suite.cases else None)
                  for suite in mine}
        loads = {backend: record["load_seconds"] for backend, record in bench.models.get(spec.label, {}).items()
                 if record.get("load_seconds") is not None}
        runs.append(ModelRun(spec.label, mine[0].envelope["model"], THIS_RUN, suites, loads))
    return runs
