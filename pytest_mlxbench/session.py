"""Controller-side state of a benchmark session: gathers what tests recorded (from reports, so
it works the same under pytest-xdist), builds each suite's envelope once, validates and writes it.

Tests never touch this object: they record through fixtures into their item's
``user_properties`` (see ``records``); the reports carry those here.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pytest

from . import envelope as env
from . import storage
from .gitinfo import suite_code_sha
from .memory import suite_snapshots
from .records import (
    CONTEXT,
    GEN_KWARGS,
    NOTE,
    RESULT,
    SAMPLE,
    TIMING_SUITES,
    dict_items,
    module_id,
    tagged_suite,
)
from .settings import Settings
from .summaries import SummaryFailed, run_summary


@dataclass
class SuiteRecord:
    name: str
    suite_file: Path
    model: str | None = None  # the model label when the run compares several (records.suite_tag)
    rows: list[dict] = field(default_factory=list)
    samples_by_module: dict[str, list[dict]] = field(default_factory=dict)
    summarizers: dict[str, dict] = field(default_factory=dict)  # module id -> summarizer_ref
    errors: list[str] = field(default_factory=list)
    gen_kwargs: dict = field(default_factory=dict)
    backends: set[str] = field(default_factory=set)
    seen_nodeids: set[str] = field(default_factory=set)
    memory: list[dict] = field(default_factory=list)  # one window per item (records.ProcessContext)
    retries: list[str] = field(default_factory=list)  # why each request sent again was (backends.chat)
    skips: dict[str, int] = field(default_factory=dict)  # reason -> skipped tests
    cases: dict[str, dict] = field(default_factory=dict)  # case id -> its outcome (``case_outcome``)

    @property
    def samples(self) -> list[dict]:
        return [sample for samples in self.samples_by_module.values() for sample in samples]


@dataclass
class BuiltSuite:
    """One suite's envelope, built once: the gate judges it and the writer writes it."""

    suite: str
    envelope: dict
    samples: list[dict]
    summary_errors: list[str] = field(default_factory=list)
    path: Path | None = None
    samples_path: Path | None = None
    problems: list[str] = field(default_factory=list)  # ways the envelope breaks the schema
    model: str | None = None  # the model label when the run compares several
    cases: list[dict] = field(default_factory=list)  # per-case outcomes of an answer-checked suite
    cases_path: Path | None = None


class BenchSession:
    def __init__(self, settings: Settings, hook=None):
        self.settings = settings
        self.hook = hook  # the config's hook relay, for the pytest_mlxbench_update_* hooks
        self.started = datetime.now(timezone.utc)
        self.stamp = self.started.strftime("%Y%m%dT%H%M%SZ")
        self.suites: dict[tuple[str, str | None], SuiteRecord] = {}  # (suite, model label) -> record
        self.models: dict[str, dict[str, dict]] = {}  # model label -> backend -> records.ModelRecord as a dict
        self.session_notes: list[str] = [*settings.ci.notes, *filter(None, [settings.tiny_model_note])]
        self.built: list[BuiltSuite] | None = None
        self.written: list[BuiltSuite] = []
        self.unwritable: list[str] = []  # directories that failed at the end, with why (see write)
        self.fallback: Path | None = None

    # --- what tests recorded ---------------------------------------------------

    def add_report(self, report: pytest.TestReport) -> None:
        properties = dict_items(report.user_properties)
        record = self._record_of(properties)
        if record is None:
            return
        if report.failed:
            record.errors.append(_failure_line(report))
        elif report.skipped and not hasattr(report, "wasxfail"):
            reason = _skip_reason(report)
            record.skips[reason] = record.skips.get(reason, 0) + 1
        if report.when == "call" or (report.when == "setup" and not report.passed):
            record.cases[tagged_suite(properties).get("case", report.nodeid)] = case_outcome(report)
        if report.when == "teardown":
            self._take_properties(record, report.nodeid, properties)

    def add_unreported_item(self, item: pytest.Item, reason: str) -> None:
        """An item cut short (Ctrl-C) has no teardown report: keep what it recorded anyway."""
        properties = dict_items(item.user_properties)
        record = self._record_of(properties)
        if record is None or item.nodeid in record.seen_nodeids:
            return
        record.errors.append(f"{item.nodeid}: {reason}")
        self._take_properties(record, item.nodeid, properties)

    def _record_of(self, properties: list[tuple]) -> SuiteRecord | None:
        """The suite record of a test, from the suite tag it got at collection."""
        tag = tagged_suite(properties)
        if not isinstance(tag, dict):
            return None
        key = (tag["suite"], tag.get("model"))
        record = self.suites.setdefault(key, SuiteRecord(tag["suite"], Path(tag["file"]), tag.get("model")))
        record.backends.update(tag["backends"])
        if tag.get("summarizer"):
            record.summarizers[tag["module"]] = tag["summarizer"]
        return record

    def _take_properties(self, record: SuiteRecord, nodeid: str, properties: list[tuple]) -> None:
        record.seen_nodeids.add(nodeid)
        for key, value in properties:
            if key == RESULT:
                record.rows.append(value)
            elif key == SAMPLE:
                record.samples_by_module.setdefault(module_id(nodeid), []).append(value)
            elif key == NOTE:
                record.errors.append(value)
            elif key == GEN_KWARGS:
                record.gen_kwargs.update(value)
            elif key == CONTEXT:
                self._take_context(record, value)

    def _take_context(self, record: SuiteRecord, context: dict) -> None:
        for label, backends in (context.get("models") or {}).items():
            self.models.setdefault(label, {}).update(backends)
        for text in context.get("notes") or ():
            self.note(text)
        if context.get("memory"):
            record.memory.append(context["memory"])
        record.retries.extend(context.get("retries") or ())

    @property
    def skips(self) -> dict[str, dict[str, int]]:
        """Per suite (and model, when several are compared), how many tests were skipped for each reason."""
        return {_label(record): record.skips for record in self.suites.values() if record.skips}

    def note(self, message: str) -> None:
        if message not in self.session_notes:
            self.session_notes.append(message)

    # --- envelopes -------------------------------------------------------------

    def envelopes(self) -> list[BuiltSuite]:
        """Every suite's envelope, built once: later calls return the same frozen objects."""
        if self.built is None:
            system = _detect_system(self.settings.ci.runner, self.hook)
            self.built = [self._build(record, system) for record in self.suites.values() if _has_data(record)]
            self.built += self._comparison(system)
        return self.built

    def ran(self, suite: str) -> bool:
        """Whether any test of the suite ran in this session (for any model)."""
        return any(name == suite for name, _ in self.suites)

    def _comparison(self, system: dict) -> list[BuiltSuite]:
        """The capability-comparison envelope, when several models ran or --bench-compare is given."""
        from .suites.comparison.session import comparison_suite

        return comparison_suite(self, system)

    def _build(self, record: SuiteRecord, system: dict) -> BuiltSuite:
        sha, git_notes = suite_code_sha(record.suite_file)
        rows, summary_errors = self._rows_with_summaries(record)
        model = self._model_for(record)
        snapshots, memory_notes = suite_snapshots(record.memory)
        envelope = {
            "schema_version": env.SCHEMA_VERSION,
            "timestamp": self.started.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "git_sha": sha,
            "trigger": self.settings.ci.trigger,
            "pr_number": self.settings.ci.pr_number,
            "suite": record.name,
            "model": model["name"],
            "seed": self.settings.seed,
            "system": copy.deepcopy(system),
            "results": rows,
            "memory_snapshots": snapshots,
            "errors": [*self.session_notes, *git_notes, *memory_notes, *record.errors, *summary_errors,
                       *_retries_notes(record.retries)],
        }
        for key in ("revision", "quantization"):
            if model.get(key):
                envelope["model_revision" if key == "revision" else key] = model[key]
        if record.gen_kwargs:
            envelope["gen_kwargs"] = record.gen_kwargs
        if not rows and not summary_errors:  # nothing measured; a failed summary is not a skip
            envelope["skipped"] = True
        if self.hook is not None:
            self.hook.pytest_mlxbench_update_envelope(envelope=envelope)
        cases = [] if record.name in TIMING_SUITES else [{"case": case, **outcome} for case, outcome in record.cases.items()]
        return BuiltSuite(record.name, _frozen(envelope), record.samples, summary_errors, model=record.model,
                          cases=cases)

    def _rows_with_summaries(self, record: SuiteRecord) -> tuple[list[dict], list[str]]:
        rows, errors = list(record.rows), []
        for module, samples in record.samples_by_module.items():
            ref = record.summarizers.get(module)
            if ref is None:
                continue
            try:
                rows.extend(run_summary(ref, samples))
            except SummaryFailed as failure:
                errors.append(f"{module}::bench_summarize failed (harness error): {failure}")
        return rows, errors

    def _model_for(self, record: SuiteRecord) -> dict:
        spec = next((spec for spec in self.settings.models if spec.label == record.model), self.settings.models[0])
        in_use = self.models.get(spec.label) or next(iter(self.models.values()), {})
        for backend in sorted(record.backends):
            if backend in in_use:
                return in_use[backend]
        if in_use:
            return next(iter(in_use.values()))
        return {"name": spec.name}

    @property
    def summary_failed(self) -> bool:
        return any(suite.summary_errors for suite in self.built or ())

    def write(self) -> list[BuiltSuite]:
        """Validate and write every suite's envelope (and its sample log); an invalid envelope is
        kept as ``*.invalid.json`` so nothing measured is lost, and reported as a problem. When the
        output directory fails (a disk that filled during the run), what it could not take goes to
        a new temporary directory, and failing that stays in memory for the terminal to print
        (``write_failure`` says which, in one line)."""
        directories = [self.settings.out_dir]
        for suite in self.envelopes():
            suite.problems = env.validation_errors(suite.envelope)
            while directories:
                try:
                    _write_files(suite, directories[0])
                    break
                except OSError as error:
                    self.unwritable.append(f"{directories.pop(0)} ({error.strerror or error})")
                    if self.fallback is None and not directories:
                        directories += self._fallback_directory()
        self.written = list(self.envelopes())
        return self.written

    def _fallback_directory(self) -> list[Path]:
        try:
            self.fallback = storage.fallback_directory()
        except OSError as error:
            self.unwritable.append(f"a temporary directory ({error.strerror or error})")
            return []
        return [self.fallback]

    @property
    def write_failure(self) -> str | None:
        """One line: the output directory failed, and where the results are instead."""
        if not self.unwritable:
            return None
        parts = ["could not write to --bench-out " + ", nor to ".join(self.unwritable)]
        files = [path for suite in self.written for path in (suite.path, suite.samples_path) if path]
        if self.fallback is not None and any(path.parent == self.fallback for path in files):
            parts.append(f"what it could not take is in {self.fallback} instead")
        if any(suite.path is None for suite in self.written):
            parts.append("the envelopes not written follow as JSON")
        lost = sum(len(suite.samples) for suite in self.written if suite.samples and suite.samples_path is None)
        if lost:
            parts.append(f"{lost} sample-log line(s) could not be kept")
        return "; ".join(parts)


def _write_files(suite: BuiltSuite, directory: Path) -> None:
    """The suite's envelope (``*.invalid.json`` when it breaks the contract) and sample log, each
    written once: after a failure, only what is missing goes to the next directory."""
    directory.mkdir(parents=True, exist_ok=True)
    if suite.path is None and suite.problems:
        suite.path = storage.write_lines(directory, storage.envelope_stem(suite.envelope), ".invalid.json",
                                         [suite.envelope])
    elif suite.path is None:
        suite.path = storage.write_envelope(suite.envelope, directory)
    stem = suite.path.name.removesuffix(".json").removesuffix(".invalid")
    if suite.samples and suite.samples_path is None:
        suite.samples_path = storage.write_lines(directory, stem, ".samples.jsonl", suite.samples)
    if suite.cases and suite.cases_path is None:
        suite.cases_path = storage.write_lines(directory, stem, ".cases.jsonl", suite.cases)


def _label(record: SuiteRecord) -> str:
    return f"{record.name} [model-{record.model}]" if record.model else record.name


def _has_data(record: SuiteRecord) -> bool:
    return bool(record.rows or record.samples or record.errors)


def _retries_notes(reasons: list[str]) -> list[str]:
    from .backends.chat import retries_note

    return [retries_note(reasons)] if reasons else []


def _detect_system(runner: str | None, hook) -> dict:
    from .system import detect_system

    system = detect_system(runner)
    if hook is not None:
        hook.pytest_mlxbench_update_system(system=system)
    return system


def _frozen(envelope: dict) -> dict:
    """A deep copy, so nothing a hook or the gate does later changes what is written."""
    return copy.deepcopy(envelope)


def _failure_line(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    message = crash.message if crash is not None else str(report.longrepr).strip().splitlines()[-1:]
    if isinstance(message, list):
        message = message[0] if message else "failed"
    first_line = " ".join(str(message).split())[:500]
    phase = "" if report.when == "call" else f" (in {report.when})"
    return f"{report.nodeid}{phase}: {first_line}"


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    message = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return " ".join(str(message).removeprefix("Skipped: ").split())


def case_outcome(report: pytest.TestReport) -> dict:
    """A case's outcome, the same for every suite: ``passed``, ``wrong`` (the model's miss, shown
    as xfail, with its failure kind), ``error`` (a harness error) or ``skipped``."""
    if hasattr(report, "wasxfail"):
        return {"outcome": "wrong", "kind": str(report.wasxfail).split(":", 1)[0].strip() or "wrong_answer"}
    if report.failed:
        return {"outcome": "error"}
    return {"outcome": "passed" if report.passed else "skipped"}


BENCH_SESSION = pytest.StashKey[BenchSession]()
"""The run's BenchSession in ``config.stash``."""
