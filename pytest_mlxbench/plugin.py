"""pytest hooks of pytest-mlxbench: options, suite markers, collection checks, gathering
measurements from reports, and writing the envelopes at session end."""

from __future__ import annotations

import contextlib
import gc
import sys
from pathlib import Path

import pytest

from . import interrupts
from .backends import watch
from .backends.chat import install_fanout
from .errors import BenchInputError
from .gate.items import Gate, GateRuleItem, report_rules
from .multimodel import (
    group_by_model,
    model_param,
    parametrize_by_model,
    release_model_before_the_next,
)
from .records import CONTEXT, SUITE, TIMING_SUITES, process_context, suite_tag
from .report.terminal import (
    is_benchmark_header,
    skip_lines,
    summary_lines,
    unsaved_envelope_lines,
    wants_benchmark_output,
)
from .selection import (
    SUITES,
    item_suites,
    registered_markers,
    suite_marker_problems,
    suite_of,
    unknown_name_problem,
)
from .session import BENCH_SESSION, BenchSession
from .settings import Settings, add_options
from .storage import probe_directory

pytest_plugins = ("pytest_mlxbench.fixtures", "pytest_mlxbench.suites.code_accuracy.sandbox_fixture")

MODEL_FIXTURES = frozenset({"mlx_model", "mlx_model_path", "mlx_endpoint"})
TIMING_GROUP = "mlxbench-timing"  # pytest-xdist runs these on one worker, one after another


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from . import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


def pytest_configure(config: pytest.Config) -> None:
    for name in SUITES:
        config.addinivalue_line("markers", f"{name}: benchmark suite '{name}' (pytest-mlxbench); select with -m {name}")
    try:
        settings = Settings.from_config(config)
        bench = BenchSession(settings, config.hook)
        threshold_gate = Gate.from_settings(settings, config.rootpath, bench)
    except BenchInputError as error:
        raise pytest.UsageError(str(error)) from None
    config.stash[BENCH_SESSION] = bench
    interrupts.register(config)
    watch.register(config)
    _keep_timing_suites_on_one_worker(config)
    config.pluginmanager.register(BenchHooks(config, bench, threshold_gate), "mlxbench-session")
    install_fanout(config, settings)


@pytest.hookimpl(tryfirst=True, specname="pytest_configure")
def pytest_configure_quiet_benchmark(config: pytest.Config) -> None:
    """pytest-benchmark's table only when asked for (any --benchmark-* option): the mlxbench
    section is the run's summary. Set before pytest-benchmark reads it in its pytest_configure."""
    if hasattr(config.option, "benchmark_quiet") and not wants_benchmark_output(config):
        config.option.benchmark_quiet = True


@pytest.hookimpl(wrapper=True)
def pytest_report_header(config: pytest.Config):
    lines = yield
    if wants_benchmark_output(config):
        return lines
    return [line for line in lines if not is_benchmark_header(line)]


def _is_controller(config: pytest.Config) -> bool:
    return not hasattr(config, "workerinput")


def _runs_xdist_workers(config: pytest.Config) -> bool:
    return getattr(config.option, "dist", "no") != "no" and bool(getattr(config.option, "numprocesses", None))


def _keep_timing_suites_on_one_worker(config: pytest.Config) -> None:
    """Under pytest-xdist, schedule by xdist_group (``loadgroup``), so the timing suites, which carry
    one group, run on one worker; ungrouped tests are spread as with ``load``. Workers learn it
    from their ``workerinput`` (see ``pytest_configure_node``)."""
    if _is_controller(config):
        if getattr(config.option, "dist", "no") == "load":
            config.option.dist = "loadgroup"
    elif config.workerinput.get("mlxbench_loadgroup"):
        config.option.loadgroup = True


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    node.workerinput["mlxbench_loadgroup"] = node.config.getvalue("dist") == "loadgroup"


# --- collection ------------------------------------------------------------------


@pytest.hookimpl(tryfirst=True)
def pytest_collection(session: pytest.Session) -> None:
    gc.freeze()


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """What lives until the session ends (modules, items, their cases) leaves the garbage
    collector's generations: full collections stop rescanning it, during collection and inside the
    timing suites' measured windows."""
    gc.freeze()


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    gc.unfreeze()  # a run inside another process (pytester) leaves its objects collectable


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):
    """A bench file (one with a suite marker or a recorder in use) whose test has no suite marker,
    or two, fails to collect with a message saying which marker to add."""
    report = yield
    if report.passed and isinstance(collector, (pytest.Module, pytest.Class)):
        problems = suite_marker_problems([node for node in report.result if isinstance(node, pytest.Item)])
        if problems:
            report.outcome = "failed"
            report.longrepr = "\n".join(problems)
            report.result = []
    return report


@pytest.hookimpl(wrapper=True)
def pytest_generate_tests(metafunc: pytest.Metafunc):
    """A suite that finds bad input while making its cases raises BenchInputError: it becomes a
    collection error of one line, not a traceback."""
    try:
        return (yield)
    except BenchInputError as error:
        raise pytest.Collector.CollectError(str(error)) from None


@pytest.hookimpl(tryfirst=True, specname="pytest_generate_tests")  # first: ids read [model-<label>-...]
def pytest_generate_tests_by_model(metafunc: pytest.Metafunc) -> None:
    from .session import BENCH_SESSION

    parametrize_by_model(metafunc, metafunc.config.stash[BENCH_SESSION].settings.models)


class BenchHooks:
    """The hooks that need the session's state; registered once per run in pytest_configure."""

    def __init__(self, config: pytest.Config, bench: BenchSession, threshold_gate: Gate | None):
        self.config = config
        self.bench = bench
        self.gate = threshold_gate
        self.current_item: pytest.Item | None = None
        self.selected_rules: set[str] = set()  # names of the rule items -m, -k and --lf kept
        self.report_page: Path | None = None
        self.report_error: str | None = None
        self.collected: list[pytest.Item] = []  # every collected item, before -m chose

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, session: pytest.Session, items: list[pytest.Item]) -> None:
        """Timing suites join one xdist group (before pytest-xdist reads the groups); threshold rules
        join the items at the end, before -m, -k and --lf choose."""
        timing = set(TIMING_SUITES)
        for item in items:
            if timing.intersection(item_suites(item)):
                item.add_marker(pytest.mark.xdist_group(TIMING_GROUP))
        self.collected = list(items)
        if self.gate is not None:
            items.extend(self.gate.make_items(session))

    @pytest.hookimpl(trylast=True, specname="pytest_collection_modifyitems")  # a second impl of the hook
    def pytest_collection_modifyitems_of_suites(self, items: list[pytest.Item]) -> None:
        """After -m, -k and --lf have chosen: keep the chosen rules for the session's end (they run
        on the controller), tag each suite test, then apply --bench-limit per suite (and model)."""
        self._check_mark_expression(items)
        self.collected = []
        kept, deselected, counts = [], [], {}
        limit = self.bench.settings.limit
        for item in items:
            if isinstance(item, GateRuleItem):
                self.selected_rules.add(item.name)
                continue
            suites = item_suites(item)
            if not suites:
                kept.append(item)
                continue
            suite, model = suites[0], model_param(item)
            counts[suite, model] = counts.get((suite, model), 0) + 1
            if limit and counts[suite, model] > limit:
                deselected.append(item)
                continue
            item.user_properties.append((SUITE, suite_tag(item, suite)))
            kept.append(item)
        if deselected:
            self.config.hook.pytest_deselected(items=deselected)
        items[:] = group_by_model(kept)
        if not _is_controller(self.config):
            self.config.workeroutput["mlxbench_rules"] = sorted(self.selected_rules)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error) -> None:
        """The rules a pytest-xdist worker's collection kept (every worker keeps the same)."""
        self.selected_rules.update(getattr(node, "workeroutput", {}).get("mlxbench_rules", ()))

    def _check_mark_expression(self, selected: list[pytest.Item]) -> None:
        """When -m selected nothing and names something unknown (a typo), say so in one line."""
        expression = self.config.option.markexpr
        if selected or not expression or not self.collected or not _is_controller(self.config):
            return
        collected_marks = {mark.name for item in self.collected for mark in item.iter_markers()}
        known = registered_markers(self.config.getini("markers")) | collected_marks | set(SUITES)
        problem = unknown_name_problem(expression, known, SUITES)
        if problem:
            raise pytest.UsageError(problem)

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """Under pytest-xdist the controller collects nothing: it checks the model and servers up
        front for every suite, so bad input is one line here, not an error per test on the workers."""
        if _is_controller(self.config) and _runs_xdist_workers(self.config) and not self.config.option.collectonly:
            self._check_out_dir()
            self._check_model_and_servers(MODEL_FIXTURES)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Bad model or server input fails here, once, with one line, before any test runs."""
        if self.config.option.collectonly or not _is_controller(self.config):
            return
        if any(suite_of(item) for item in session.items):
            self._check_out_dir()
        needed = set().union(*(getattr(item, "fixturenames", ()) for item in session.items)) & MODEL_FIXTURES
        if needed:
            self._check_model_and_servers(needed)

    def _check_out_dir(self) -> None:
        """--bench-out is created and write-probed before any test runs: one line, exit code 4."""
        try:
            probe_directory(self.bench.settings.out_dir)
        except BenchInputError as error:
            raise pytest.UsageError(str(error)) from None

    def _check_model_and_servers(self, needed: set[str] | frozenset[str]) -> None:
        from .backends.distributed.shards import check_before_start
        from .backends.endpoint import check_reachable
        from .fixtures import resolve_model_path

        settings = self.bench.settings
        try:
            if "mlx_endpoint" in needed:
                for base_url in dict.fromkeys([*settings.base_urls, *(spec.base_url for spec in settings.models
                                                                      if spec.base_url)]):
                    check_reachable(base_url)
            if not settings.base_urls or needed - {"mlx_endpoint"}:
                for spec in settings.models:
                    if spec.local:
                        model_path = resolve_model_path(self.config, spec, progress=self._status_line)
                        if "mlx_endpoint" in needed and not settings.base_urls:
                            check_before_start(settings, model_path, _runs_xdist_workers(self.config))
        except BenchInputError as error:
            raise pytest.UsageError(str(error)) from None

    def _status_line(self, line: str) -> None:
        """A line the user sees while it happens (a GGUF conversion), past output capturing."""
        capture = self.config.pluginmanager.getplugin("capturemanager")
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            sys.stderr.write(line + "\n")
            sys.stderr.flush()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item):
        self.current_item = item
        tag = suite_of(item)
        if tag is not None:
            process_context(self.config).item_started(tag["suite"])
        result = yield
        self.current_item = None
        return result

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(self, item: pytest.Item, nextitem: pytest.Item | None):
        """After the item's fixtures (and, for the last item, the session's; for a model's last
        item, that model's) are torn down, its teardown report carries this process's context to
        the controller."""
        try:
            result = yield
            release_model_before_the_next(item, nextitem)
            return result
        finally:
            if suite_of(item) is not None:
                item.user_properties.append((CONTEXT, process_context(self.config).take()))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.bench.add_report(report)

    def pytest_keyboard_interrupt(self, excinfo) -> None:
        self.bench.note(f"run interrupted ({interrupts.interruption(excinfo)}): results cover what was measured before")

    @pytest.hookimpl(tryfirst=True, specname="pytest_sessionfinish")
    def pytest_sessionfinish_rules(self, session: pytest.Session) -> None:
        """After every test and fixture teardown, before the reporters close: the envelopes are
        built once and the chosen rules judged against them, reported as tests."""
        if not _is_controller(self.config):
            return
        if self.current_item is not None:
            self.bench.add_unreported_item(self.current_item, "interrupted before it finished")
            self.current_item = None
        if self.gate is not None and self.selected_rules and not self.config.option.collectonly:
            if report_rules(session, self.gate, self.selected_rules):
                session.exitstatus = max(session.exitstatus, pytest.ExitCode.TESTS_FAILED)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Writes the envelopes the rules judged (nothing ran under --collect-only)."""
        if not _is_controller(self.config) or self.config.option.collectonly:
            return
        written = self.bench.write()
        harness_failed = self.bench.write_failure or any(suite.problems or suite.summary_errors for suite in written)
        if harness_failed and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        if self.bench.settings.report_dir and written:
            try:
                self.report_page = self._write_report(written)
            except BenchInputError as error:  # e.g. an unwritable --bench-report directory
                self.report_error = str(error)
                session.exitstatus = max(session.exitstatus, pytest.ExitCode.TESTS_FAILED)

    def _write_report(self, written) -> Path:
        from .report import write_report

        envelopes = [suite.envelope for suite in written if not suite.problems]
        return write_report(envelopes, self.bench.settings.report_dir,
                            baseline=self.gate.baseline if self.gate else None,
                            outcomes=self.gate.outcomes if self.gate else None)

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if not (self.bench.written or self.bench.skips) and not (self.gate and self.gate.outcomes):
            return
        terminalreporter.section("mlxbench")
        if self.bench.settings.tiny_model_note:
            terminalreporter.line(f"note: {self.bench.settings.tiny_model_note}", yellow=True)
        for note in getattr(self.gate and self.gate.baseline, "notes", ()):
            terminalreporter.line(f"note: --bench-baseline: {note}", yellow=True)
        for line, markup in [*summary_lines(self.bench.written), *skip_lines(self.bench.skips)]:
            terminalreporter.line(line, **markup)
        if self.bench.write_failure:
            terminalreporter.line(self.bench.write_failure, red=True)
            for line in unsaved_envelope_lines(self.bench.written):
                terminalreporter.line(line)
        for suite in self.bench.written:
            if suite.suite == "capability-comparison" and not suite.problems:
                from .report.comparison_text import comparison_lines

                for line in comparison_lines(suite.envelope):
                    terminalreporter.line(line)
        if self.gate and self.gate.outcomes:
            from .report import format_outcomes_table

            terminalreporter.line("")
            terminalreporter.line(format_outcomes_table(self.gate.outcomes))
        if self.report_page:
            terminalreporter.line(f"report: {self.report_page}")
        if self.report_error:
            terminalreporter.line(f"report not written: {self.report_error}", red=True)
