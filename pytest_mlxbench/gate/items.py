"""Threshold rules as pytest items: each rule is its own pass/fail outcome, visible with -v, in
JUnit XML and to --lf, and a failed rule makes pytest exit non-zero.

The items join the collection and carry their suite's marker, so ``-m``, ``-k`` and ``--lf``
choose rules as they choose tests. They are then taken out of the run: the rules are judged on the
controller at session end, after every suite test and fixture teardown (on every pytest-xdist
worker too), against the envelopes the session built once, and their reports go through pytest's
own report hooks (``report_rules``), as a test's reports do.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest

from .. import gate, storage
from ..errors import BenchInputError
from ..session import BenchSession
from ..settings import Settings


class RuleFailed(Exception):
    """A rule failed for one or more results; the message names them with their numbers."""


class Gate:
    """The rules and the baseline of a run, and the outcomes once rules are evaluated."""

    def __init__(self, rules: list[gate.Rule], baseline: list[dict] | None, bench: BenchSession, path: Path):
        self.rules = rules
        self.path = path
        self.baseline = baseline
        self.bench = bench
        self.outcomes: list[gate.Outcome] = []
        self._current: list[dict] | None = None

    @classmethod
    def from_settings(cls, settings: Settings, rootpath: Path, bench: BenchSession) -> Gate | None:
        """Rules from --bench-thresholds, else from [tool.mlxbench] in pyproject.toml; None if none."""
        path = settings.thresholds or rootpath / "pyproject.toml"
        if settings.thresholds:
            rules = gate.load_rules(path)
        elif path.is_file():
            rules = gate.rules_from_pyproject(path)
        else:
            rules = []
        baseline = storage.load_baseline(settings.baseline) if settings.baseline else None
        relative = [rule for rule in rules if rule.is_relative]
        if relative and baseline is None:
            raise relative[0].error("is relative (max_drop_pct/max_rise_pct) but no baseline was given; "
                                    "pass --bench-baseline ENVELOPE_OR_DIR")
        return cls(rules, baseline, bench, path) if rules else None

    def current_envelopes(self) -> list[dict]:
        """Built once, when the first rule runs: by then every suite test has finished."""
        if self._current is None:
            self._current = [suite.envelope for suite in self.bench.envelopes()]
        return self._current

    def check(self, rule: gate.Rule) -> list[gate.Outcome]:
        outcomes = gate.evaluate([rule], self.current_envelopes(), self.baseline)
        self.outcomes.extend(outcomes)
        return outcomes

    def make_items(self, session: pytest.Session) -> list[GateRuleItem]:
        """Items under the rules' file, so their node ids read ``rules.toml::rule0[suite-field]``."""
        rules_file = ThresholdsFile.from_parent(session, path=self.path)
        return [GateRuleItem.from_parent(rules_file, name=f"rule{rule.index}[{rule.suite}-{rule.field}]",
                                         rule=rule, gate=self) for rule in self.rules]


class ThresholdsFile(pytest.File):
    """The file the rules came from; its items are made by the plugin, not collected."""

    def collect(self):
        return []


class GateRuleItem(pytest.Item):
    def __init__(self, *, rule: gate.Rule, gate: Gate, **kwargs):
        super().__init__(**kwargs)
        self.rule = rule
        self.gate = gate
        self.add_marker(rule.suite)

    def runtest(self) -> None:
        if not self.gate.bench.ran(self.rule.suite):
            pytest.skip(f"suite {self.rule.suite} did not run in this session; run it to check this rule")
        built = [suite for suite in self.gate.bench.envelopes() if suite.suite == self.rule.suite]
        broken = [error for suite in built for error in suite.summary_errors]
        if broken:
            raise RuleFailed(f"{self.rule.label}: the suite's summary failed, so its numbers cannot be judged: "
                             + "; ".join(broken))
        if built and all(suite.envelope.get("skipped") for suite in built):  # selected, yet nothing measured
            errors = [error for suite in built for error in suite.envelope.get("errors", [])][-3:]
            raise RuleFailed(f"{self.rule.label}: suite {self.rule.suite} ran but measured nothing, so the rule"
                             " cannot be checked" + (": " + "; ".join(errors) if errors else ""))
        outcomes = self.gate.check(self.rule)
        failed = [outcome for outcome in outcomes if outcome.status == "failed"]
        if failed:
            raise RuleFailed("\n".join(outcome.message for outcome in failed))
        if outcomes and all(outcome.status == "skipped" for outcome in outcomes):
            pytest.skip("; ".join(sorted({outcome.message for outcome in outcomes})))

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, (RuleFailed, BenchInputError)):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self):
        return self.rule.source, None, f"threshold {self.rule.label}: {self.rule.field} {self.rule.describe_limits()}"


def report_rules(session: pytest.Session, gate: Gate, selected: Iterable[str]) -> bool:
    """Judge the selected rules (by item name) and report each as a test; True if any failed."""
    hook = session.config.hook
    wanted = set(selected)
    items = [item for item in gate.make_items(session) if item.name in wanted]
    session.testscollected += len(items)
    failed = False
    for item in items:
        hook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        for when, run in (("setup", _nothing), ("call", item.runtest), ("teardown", _nothing)):
            report = pytest.TestReport.from_item_and_call(item, pytest.CallInfo.from_call(run, when))
            failed = failed or report.failed
            hook.pytest_runtest_logreport(report=report)
        hook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    return failed


def _nothing() -> None:
    pass
