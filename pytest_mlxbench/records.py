"""What travels from a test to the session, as plain data in the report's ``user_properties``.

The process that runs a test (the only process, or a pytest-xdist worker) never writes files: it
tags each suite item at collection (``suite_tag``: the suite, its file, where its summary function
lives, which backends it uses), and at each suite item's teardown attaches what this process knows
that the envelopes need (``ProcessContext.take``: the models in use, notes, the memory window
of that item, and why chat requests were sent again). Reports carry all of it to the controller,
where ``BenchSession`` gathers it.
"""

from __future__ import annotations

import inspect
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pytest

from .multimodel import case_id, model_param
from .system import RssSampler, memory_snapshot, mlx_peak_memory_gb

RESULT, SAMPLE, NOTE, GEN_KWARGS, SUITE, CONTEXT = (
    "mlxbench_result", "mlxbench_sample", "mlxbench_note", "mlxbench_gen_kwargs", "mlxbench_suite",
    "mlxbench_context",
)
IN_PROCESS, SERVER = "in_process", "server"
TIMING_SUITES = ("throughput", "ttft")  # measured, not answer-checked: their cases are no pass/fail signal
BACKEND_FIXTURES = {"mlx_model": IN_PROCESS, "mlx_endpoint": SERVER}
SAMPLE_INTERVAL_S = 0.02


def suite_tag(item: pytest.Item, suite: str) -> dict:
    """The plain-data description of a suite item, from the process that collected it."""
    fixtures = set(getattr(item, "fixturenames", ()))
    spec = model_param(item)
    label = spec.label if spec is not None else None
    return {
        "suite": suite,
        "model": label,  # the --mlx-model this item runs on, when the run compares several
        "case": case_id(item.nodeid, label),
        "file": str(item.path),
        "module": module_id(item.nodeid),
        "summarizer": summarizer_ref(getattr(item, "module", None)),
        "backends": sorted(backend for name, backend in BACKEND_FIXTURES.items() if name in fixtures),
    }


def summarizer_ref(module) -> dict | None:
    """Where the suite module's ``bench_summarize`` lives, so a controller that never collected
    the module (pytest-xdist) can import it: a module name, or the file that defines it."""
    summarize = getattr(module, "bench_summarize", None)
    if not callable(summarize):
        return None
    defined_in = inspect.getmodule(summarize)
    return {"module": summarize.__module__, "qualname": summarize.__qualname__,
            "file": str(Path(inspect.getfile(defined_in or summarize)).resolve())}


def module_id(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def tagged_suite(properties) -> dict | None:
    return next((value for key, value in properties if key == SUITE), None)


def dict_items(properties) -> list[tuple]:
    return [tuple(prop) for prop in properties if isinstance(prop, (tuple, list)) and len(prop) == 2]


@dataclass
class ModelRecord:
    """What the envelope says about a model in use (see ``backends.models.ModelInfo``)."""

    name: str
    revision: str | None = None
    quantization: str | None = None
    load_seconds: float | None = None  # loading in process, or starting the managed server until it answers


@dataclass
class ProcessContext:
    """This process's contribution to the envelopes: models in use (by model label, then backend),
    notes, the managed server, and memory measured around each suite item (this process and the
    server, sampled)."""

    models: dict[str, dict[str, ModelRecord]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    server_pids: dict[str, int] = field(default_factory=dict)  # "server", or "rank0", "rank1"... -> pid
    model_paths: dict[str, Path] = field(default_factory=dict)  # model label -> local directory
    _sent_notes: int = 0
    _window: dict | None = None
    _samplers: dict[str, RssSampler] = field(default_factory=dict)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def set_model(self, label: str, backend: str, info, load_seconds: float | None = None) -> None:
        self.models.setdefault(label, {})[backend] = ModelRecord(info.name, info.revision, info.quantization,
                                                                 load_seconds)

    def item_started(self, suite: str) -> None:
        self._stop_samplers()
        self._window = {"suite": suite, "t0": time.time(), "start": self._snapshots("start"), "phases": []}
        self._samplers = {"pytest": RssSampler(SAMPLE_INTERVAL_S).__enter__()}
        self._sample_server()

    def server_started(self, pids: dict[str, int]) -> None:
        """The managed server is up: from now on its memory is measured too (each of its processes:
        ``server``, or one per local rank, ``rank0``, ``rank1``...)."""
        self.server_pids = dict(pids)
        self._sample_server()
        self.phase("ready")

    def server_stopping(self) -> None:
        self.phase("stopping")
        for name in self.server_pids:
            sampler = self._samplers.pop(name, None)
            if sampler is not None:
                sampler.__exit__(None, None, None)
                if self._window is not None:
                    self._window.setdefault("server_peak_mb", {}).setdefault(name, sampler.peak_mb)
        self.server_pids = {}

    def _sample_server(self) -> None:
        if self._window is None:
            return
        for name, process in self._server_processes().items():
            if name not in self._samplers:
                self._samplers[name] = RssSampler(SAMPLE_INTERVAL_S, process).__enter__()

    def phase(self, name: str) -> None:
        """A memory snapshot of this process (and the server) at a named point of the current item,
        e.g. ``model_loaded``; outside a suite item it is not kept."""
        if self._window is not None:
            self._window["phases"].append(self._snapshots(name))

    def take(self) -> dict:
        """What to attach to the item's teardown report: everything new since the last take."""
        from .backends.chat import take_retries

        window, self._window = self._window or {}, None
        if window:
            window["peak_mb"] = self._stop_samplers()
            for name, peak_mb in window.pop("server_peak_mb", {}).items():  # the server stopped during this item
                window["peak_mb"][name] = round(peak_mb, 1)
            window["end"] = self._snapshots("end")
            window["t1"] = time.time()
            window["mlx_peak_gb"] = mlx_peak_memory_gb()
        notes, self._sent_notes = self.notes[self._sent_notes:], len(self.notes)
        models = {label: {backend: asdict(model) for backend, model in backends.items()}
                  for label, backends in self.models.items()}
        return {"models": models, "notes": notes, "memory": window, "retries": take_retries()}

    def _stop_samplers(self) -> dict[str, float]:
        peaks = {}
        for process, sampler in self._samplers.items():
            sampler.__exit__(None, None, None)
            peaks[process] = round(sampler.peak_mb, 1)
        self._samplers = {}
        return peaks

    def _server_processes(self) -> dict:
        import psutil

        processes = {}
        for name, pid in self.server_pids.items():
            try:
                processes[name] = psutil.Process(pid)
            except psutil.Error:
                pass
        return processes

    def _snapshots(self, phase: str) -> dict:
        import psutil

        snapshots = {"pytest": memory_snapshot(phase)}
        for name, process in self._server_processes().items():
            try:
                snapshots[name] = memory_snapshot(phase, process)
            except psutil.Error:  # the server may exit between the two calls
                pass
        return snapshots


CONTEXT_KEY = pytest.StashKey[ProcessContext]()


def process_context(config: pytest.Config) -> ProcessContext:
    """This process's context (created on first use)."""
    if CONTEXT_KEY not in config.stash:
        config.stash[CONTEXT_KEY] = ProcessContext()
    return config.stash[CONTEXT_KEY]
