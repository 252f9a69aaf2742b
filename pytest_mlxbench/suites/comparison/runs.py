"""The models a comparison holds: each with its suites' envelopes and per-case outcomes.

This session's models come first, in --mlx-model order (the first is the reference every other
model is compared with); runs found in --bench-compare directories follow, marked as earlier
runs and labelled ``<model> @ <timestamp>``. Their per-case outcomes are read from the
``.cases.jsonl`` file written beside each envelope of an answer-checked suite.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pytest_mlxbench import storage
from pytest_mlxbench.errors import BenchInputError

COMPARISON_SUITE = "capability-comparison"
THIS_RUN = "this run"
CASES_SUFFIX = ".cases.jsonl"


@dataclass(frozen=True)
class SuiteRun:
    envelope: dict
    cases: dict[str, dict] | None = None  # case id -> {"outcome", "kind"}; None: no per-case data


@dataclass(frozen=True)
class ModelRun:
    label: str  # unique in the comparison
    model: str  # the envelopes' model name
    source: str  # THIS_RUN, or the directory an earlier run was read from
    suites: dict[str, SuiteRun] = field(default_factory=dict)
    load_seconds: dict[str, float] = field(default_factory=dict)  # backend -> seconds

    @property
    def earlier(self) -> bool:
        return self.source != THIS_RUN

    def peak_rss_mb(self) -> float | None:
        """The largest peak RSS of any process (pytest, managed server) over the model's suites."""
        peaks = [snapshot["rss_gb"] * 1024 for run in self.suites.values()
                 for snapshot in run.envelope.get("memory_snapshots", []) if snapshot["phase"].endswith("peak")]
        return max(peaks) if peaks else None


def cases_by_id(lines: Iterable[dict]) -> dict[str, dict]:
    return {line["case"]: {key: value for key, value in line.items() if key != "case"} for line in lines}


def earlier_runs(directories: Iterable[Path]) -> list[ModelRun]:
    """The newest envelope per (suite, model) under the directories, grouped into one run per
    (model, timestamp); the comparison envelopes there are not inputs."""
    found: list[tuple[dict, Path]] = []
    for directory in directories:
        if not directory.is_dir():
            raise BenchInputError(f"--bench-compare {directory} is not a directory: give a results directory")
        try:
            files = storage.envelope_files(directory)
        except BenchInputError as error:
            raise BenchInputError(f"--bench-compare: {error}") from None
        found += [(envelope, file) for file, envelope in files if envelope["suite"] != COMPARISON_SUITE]
    newest = {id(envelope) for envelope in storage.newest_per_suite_model(envelope for envelope, _ in found)}
    runs: dict[tuple[str, str], ModelRun] = {}
    for envelope, file in found:
        if id(envelope) not in newest:
            continue
        key = (envelope["model"], envelope["timestamp"])
        run = runs.setdefault(key, ModelRun(f"{envelope['model']} @ {envelope['timestamp']}", envelope["model"],
                                            str(file.parent)))
        run.suites[envelope["suite"]] = SuiteRun(envelope, _cases_beside(file))
    return sorted(runs.values(), key=lambda run: (run.model, run.label))


def _cases_beside(file: Path) -> dict[str, dict] | None:
    path = file.with_name(file.name.removesuffix(".json") + CASES_SUFFIX)
    if not path.is_file():
        return None
    try:
        return cases_by_id(json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise BenchInputError(f"{path}: not a per-case outcome file ({error}); remove it or write it again") from None
