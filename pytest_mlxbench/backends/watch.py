"""The managed server seen from the tests: its failures said once, each affected test in one line.

``ServerWatch`` is registered by the plugin for every run (controller and pytest-xdist workers):

- the server could not start: ``start_failed`` gives the fixture one short line for every test
  that needs the server, and keeps the cause (the log's exception line and the log) for later;
- a test that needs the managed server (it uses ``mlx_endpoint`` or ``mlx_server``) errors in
  setup with one line once the server has died;
- a test during which the server dies fails with that line (not its client's traceback), even
  when the test made do with the requests that were answered;
- the cause travels in the test reports (``SERVER_EVENT``), so the controller prints each one
  once in the "mlxbench server" section of the summary, and every envelope notes it.

For a server across several ranks it also records the topology in the envelopes of the suites
that used the server: a note, and a ``topology`` tag on every result row.
"""

from __future__ import annotations

import pytest

from ..records import SUITE, process_context

SERVER_EVENT = "mlxbench_server_event"
DEATH_WAIT_S = 0.5  # after a failed test, how long an exit under way may take to show


class ServerWatch:
    def __init__(self, config: pytest.Config):
        self.config = config
        self.tests_started = 0
        self.short_reasons: dict[int, str] = {}  # id(server) -> the line for each later test
        self.pending: list[str] = []  # events not yet sent in a report
        self.events: list[str] = []  # (controller) every event, once, in order
        self.server_suites: set[str] = set()  # (controller) suites whose tests used the server
        self.topology: tuple[str, str] | None = None  # (note, tag) of a server across ranks

    # --- what fixtures tell ------------------------------------------------------

    def start_failed(self, error: Exception) -> str:
        """The cause, kept for the summary; returned: the one line each test that needs the server gets."""
        self._event(f"{self._where()}{error}")
        log = getattr(error, "log", None)
        return f"the managed mlx_lm.server could not start: the mlxbench server summary says why; log: {log}"

    def server_started(self, server) -> None:
        describe = getattr(server, "describe", None)
        if describe is not None:
            note = f"topology: {describe()}"
            self.topology = (note, server.topology.tag(server.shard))
            process_context(self.config).note(note)

    # --- hooks -------------------------------------------------------------------

    def pytest_runtest_logstart(self) -> None:
        self.tests_started += 1

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_setup(self, item: pytest.Item):
        result = yield
        server = _managed_server(item)
        if server is not None and id(server) not in self.short_reasons:
            self._check(server, item, during=False)
        if server is not None and id(server) in self.short_reasons:
            pytest.fail(self.short_reasons[id(server)], pytrace=False)
        return result

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        report = yield
        server = _managed_server(item) if call.when == "call" else None
        if server is not None and id(server) not in self.short_reasons:
            death = self._check(server, item, during=True, wait_s=DEATH_WAIT_S if report.failed else 0.0)
            if death is not None:  # a harness error, whatever the test made of its failed requests
                report.outcome = "failed"
                report.longrepr = f"the managed mlx_lm.server died during this test: {death.how}; log: {death.log}"
                if hasattr(report, "wasxfail"):
                    del report.wasxfail
        for event in self.pending:
            report.user_properties.append((SERVER_EVENT, event))
        self.pending.clear()
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for key, value in report.user_properties:
            if key == SERVER_EVENT and value not in self.events:
                self.events.append(value)
            elif key == SUITE and "server" in value.get("backends", ()):
                self.server_suites.add(value["suite"])

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if self.events:
            terminalreporter.section("mlxbench server")
            for event in self.events:
                terminalreporter.line(event, red=True)

    def pytest_mlxbench_update_envelope(self, envelope: dict) -> None:
        if self.topology is None or envelope["suite"] not in self.server_suites:
            return
        note, tag = self.topology
        if note not in envelope["errors"]:
            envelope["errors"].append(note)
        for row in envelope["results"]:
            row.setdefault("tags", {})["topology"] = tag

    # --- internals ---------------------------------------------------------------

    def _check(self, server, item: pytest.Item, during: bool, wait_s: float = 0.0):
        death = server.death(wait_s)
        if death is None:
            return None
        test = f"test {self.tests_started} ({item.nodeid})"
        self._event(f"{self._where()}the managed mlx_lm.server died {'during' if during else 'before'} {test}: "
                    f"{death}")
        self.short_reasons[id(server)] = (f"the managed mlx_lm.server died at test {self.tests_started} "
                                          f"({death.how}); log: {death.log}")
        return death

    def _event(self, line: str) -> None:
        self.pending.append(line)
        process_context(self.config).note(line)

    def _where(self) -> str:
        worker = getattr(self.config, "workerinput", {}).get("workerid")
        return f"[{worker}] " if worker else ""


def _managed_server(item: pytest.Item):
    """The managed server this test uses, if any (a failed start leaves none)."""
    funcargs = getattr(item, "funcargs", {})
    server = getattr(funcargs.get("mlx_endpoint"), "server", None) or funcargs.get("mlx_server")
    return server if hasattr(server, "death") else None


WATCH = pytest.StashKey[ServerWatch]()


def server_watch(config: pytest.Config) -> ServerWatch:
    return config.stash[WATCH]


def register(config: pytest.Config) -> None:
    watch = ServerWatch(config)
    config.stash[WATCH] = watch
    config.pluginmanager.register(watch, "mlxbench-server-watch")
