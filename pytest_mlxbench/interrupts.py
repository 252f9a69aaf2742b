"""SIGTERM (a cancelled CI job, ``timeout``) handled like Ctrl-C: the tests stop, the envelopes of
what was measured are written with the interruption in ``errors``, and the managed server is
stopped by its fixture's teardown (its processes die with pytest in any case: ``backends.process``).

Installed on the controller's main thread, only where SIGTERM still has its default action (a
handler someone else installed is left alone). Once the session is finishing (writing envelopes,
stopping servers) a further SIGTERM is ignored so it cannot cut that short; SIGKILL still ends it.
pytest-xdist workers keep the default action: a worker that is terminated takes its server with it.
"""

from __future__ import annotations

import signal
import threading

import pytest


class Terminated(KeyboardInterrupt):
    """Raised where the run was when SIGTERM arrived; pytest treats it as Ctrl-C."""


class SigtermAsInterrupt:
    def __init__(self) -> None:
        self.installed = False
        self.armed = False

    def _on_sigterm(self, signum, frame) -> None:
        if self.armed:
            self.armed = False
            raise Terminated("SIGTERM: the run was asked to stop")

    def pytest_configure(self, config: pytest.Config) -> None:
        on_controller = not hasattr(config, "workerinput")
        if on_controller and threading.current_thread() is threading.main_thread() \
                and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, self._on_sigterm)
            self.installed = self.armed = True

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self) -> None:
        self.armed = False

    def pytest_unconfigure(self) -> None:
        if self.installed:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            self.installed = False


def interruption(excinfo) -> str:
    """What interrupted the run, for the envelopes: SIGTERM or Ctrl-C."""
    return "SIGTERM" if excinfo is not None and excinfo.errisinstance(Terminated) else "KeyboardInterrupt"


def register(config: pytest.Config) -> None:
    handler = SigtermAsInterrupt()
    config.pluginmanager.register(handler, "mlxbench-sigterm")  # pytest_configure is historic: it is called
