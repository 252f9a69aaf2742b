"""Controller-side state of a benchmark session: gathers what tests recorded, builds one
envelope per suite, validates and writes it.

Tests never touch this object: they record through fixtures into their item's
``user_properties``; the reports carry those here (and would across pytest-xdist).
"""

from __future__ import annotations

import traceback
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import pytest

from . import envelope as env
from . import storage
from .backends.models import ModelInfo
from .gitinfo import suite_code_sha
from .settings import Settings
from .system import detect_system, memory_snapshot, mlx_peak_memory_gb, peak_rss_gb

RESULT, SAMPLE, NOTE, GEN_KWARGS, SUITE = (
    "mlxbench_result", "mlxbench_sample", "mlxbench_note", "mlxbench_gen_kwargs", "mlxbench_suite",
)
Summarizer = Callable[[list[dict]], list[dict]]


@dataclass
class SuiteRecord:
    name: str
    suite_file: Path
    rows: list[dict] = field(default_factory=list)
    samples_by_module: dict[str, list[dict]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)
    gen_kwargs: dict = field(default_factory=dict)
    backends: set[str] = field(default_factory=set)
    seen_nodeids: set[str] = field(default_factory=set)

    @property
    def samples(self) -> list[dict]:
        return [sample for samples in self.samples_by_module.values() for sample in samples]


@dataclass
class WrittenSuite:
    suite: str
    envelope: dict
    path: Path | None = None
    samples_path: Path | None = None
    problems: list[str] = field(default_factory=list)


class BenchSession:
    def __init__(self, settings: Settings, hook=None):
        self.settings = settings
        self.hook = hook  # the config's hook relay, for the pytest_mlxbench_update_* hooks
        self.started = datetime.now(timezone.utc)
        self.stamp = self.started.strftime("%Y%m%dT%H%M%SZ")
        self.model_path: Path | None = None
        self.suites: dict[str, SuiteRecord] = {}
        self.summarizers: dict[str, tuple[str, Summarizer]] = {}
        self.models: dict[str, ModelInfo] = {}
        self.snapshots: list[dict] = [memory_snapshot("session_start")]
        self.session_notes: list[str] = list(settings.ci.notes)
        self.written: list[WrittenSuite] = []

    # --- collection ----------------------------------------------------------

    def register_item(self, item: pytest.Item, suite: str) -> None:
        record = self.suites.setdefault(suite, SuiteRecord(suite, Path(item.path)))
        if "mlx_model" in item.fixturenames:
            record.backends.add("in_process")
        if "mlx_endpoint" in item.fixturenames:
            record.backends.add("server")
        summarize = getattr(getattr(item, "module", None), "bench_summarize", None)
        if callable(summarize):
            self.summarizers[_module_id(item.nodeid)] = (suite, summarize)

    # --- what tests recorded ---------------------------------------------------

    def add_report(self, report: pytest.TestReport) -> None:
        properties = dict_items(report.user_properties)
        record = self._record_of(properties)
        if record is None:
            return
        if report.failed:
            record.errors.append(_failure_line(report))
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
        """The suite record of a test, from the suite tag the plugin gave it at collection."""
        return self.suites.get(next((value for key, value in properties if key == SUITE), None))

    def _take_properties(self, record: SuiteRecord, nodeid: str, properties: list[tuple]) -> None:
        record.seen_nodeids.add(nodeid)
        for key, value in properties:
            if key == RESULT:
                record.rows.append(value)
            elif key == SAMPLE:
                record.samples_by_module[_module_id(nodeid)].append(value)
            elif key == NOTE:
                record.errors.append(value)
            elif key == GEN_KWARGS:
                record.gen_kwargs.update(value)

    def note(self, message: str) -> None:
        self.session_notes.append(message)

    def snapshot(self, phase: str, process=None) -> None:
        try:
            self.snapshots.append(memory_snapshot(phase, process))
        except Exception as error:  # a vanished process must not lose the run
            self.session_notes.append(f"memory snapshot {phase!r} failed: {error}")

    # --- envelopes -------------------------------------------------------------

    def build_envelopes(self) -> list[WrittenSuite]:
        snapshots = self._final_snapshots()
        system = detect_system(self.settings.ci.runner)
        if self.hook is not None:
            self.hook.pytest_mlxbench_update_system(system=system)
        return [self._build(record, snapshots, system) for record in self.suites.values() if self._has_data(record)]

    @staticmethod
    def _has_data(record: SuiteRecord) -> bool:
        return bool(record.rows or record.samples or record.errors)

    def _build(self, record: SuiteRecord, snapshots: list[dict], system: dict) -> WrittenSuite:
        sha, git_notes = suite_code_sha(record.suite_file)
        rows, summary_errors = self._rows_with_summaries(record)
        model = self._model_for(record)
        envelope = {
            "schema_version": env.SCHEMA_VERSION,
            "timestamp": self.started.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "git_sha": sha,
            "trigger": self.settings.ci.trigger,
            "pr_number": self.settings.ci.pr_number,
            "suite": record.name,
            "model": model.name,
            "seed": self.settings.seed,
            "system": system,
            "results": rows,
            "memory_snapshots": snapshots,
            "errors": [*self.session_notes, *git_notes, *record.errors, *summary_errors],
        }
        if model.revision:
            envelope["model_revision"] = model.revision
        if model.quantization:
            envelope["quantization"] = model.quantization
        if record.gen_kwargs:
            envelope["gen_kwargs"] = record.gen_kwargs
        if not rows:
            envelope["skipped"] = True
        if self.hook is not None:
            self.hook.pytest_mlxbench_update_envelope(envelope=envelope)
        return WrittenSuite(record.name, envelope)

    def _rows_with_summaries(self, record: SuiteRecord) -> tuple[list[dict], list[str]]:
        rows, errors = list(record.rows), []
        for module_id, samples in record.samples_by_module.items():
            suite, summarize = self.summarizers.get(module_id, (None, None))
            if summarize is None or suite != record.name:
                continue
            try:
                summary = list(summarize(samples))
                for row in summary:
                    env.check_result_row(row)
                rows.extend(summary)
            except Exception as error:
                where = traceback.extract_tb(error.__traceback__)[-1]
                errors.append(f"{module_id}::bench_summarize failed at line {where.lineno}: "
                              f"{type(error).__name__}: {error}")
        return rows, errors

    def _model_for(self, record: SuiteRecord) -> ModelInfo:
        for backend in ("in_process", "server"):
            if backend in record.backends and backend in self.models:
                return self.models[backend]
        return next(iter(self.models.values()), None) or ModelInfo(self.settings.model or _builtin_name())

    def _final_snapshots(self) -> list[dict]:
        end = memory_snapshot("end")
        snapshots = [*self.snapshots, end]
        # ru_maxrss and psutil count slightly differently: the peak is never below a reading
        own_readings = [snap["rss_gb"] for snap in snapshots if not snap["phase"].startswith("server")]
        snapshots.append({**end, "phase": "peak", "rss_gb": max(peak_rss_gb(), *own_readings)})
        mlx_peak = mlx_peak_memory_gb()
        if mlx_peak is not None:
            snapshots.append({"phase": "mlx_peak", "rss_gb": mlx_peak})
        return snapshots

    def write(self) -> list[WrittenSuite]:
        """Validate and write every suite's envelope (and its sample log); an invalid envelope is
        kept as ``*.invalid.json`` so nothing measured is lost, and reported as a problem."""
        out_dir = self.settings.out_dir
        self.written = self.build_envelopes()
        for suite in self.written:
            suite.problems = env.validation_errors(suite.envelope)
            stem = storage.envelope_stem(suite.envelope)
            if suite.problems:
                out_dir.mkdir(parents=True, exist_ok=True)
                suite.path = storage.write_lines(out_dir, stem, ".invalid.json", [suite.envelope])
            else:
                suite.path = storage.write_envelope(suite.envelope, out_dir)
            samples = self.suites[suite.suite].samples
            if samples:
                stem = suite.path.name.removesuffix(".json").removesuffix(".invalid")
                suite.samples_path = storage.write_lines(out_dir, stem, ".samples.jsonl", samples)
        return self.written


def dict_items(properties) -> list[tuple]:
    return [tuple(prop) for prop in properties if isinstance(prop, (tuple, list)) and len(prop) == 2]


def _module_id(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def _failure_line(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    message = crash.message if crash is not None else str(report.longrepr).strip().splitlines()[-1:]
    if isinstance(message, list):
        message = message[0] if message else "failed"
    first_line = " ".join(str(message).split())[:500]
    phase = "" if report.when == "call" else f" (in {report.when})"
    return f"{report.nodeid}{phase}: {first_line}"


def _builtin_name() -> str:
    from .backends.tinymodel import TINY_MODEL_NAME

    return TINY_MODEL_NAME


BENCH_SESSION = pytest.StashKey[BenchSession]()
"""The run's BenchSession in ``config.stash``."""
