"""Expected outputs: what a task's canonical solution returns on each of its inputs, and how long it
took, run in the sandbox once per task and cached per dataset version.

As EvalPlus computes its ground truth: ``prompt + canonical_solution`` called on every base and plus
input; for the "is it None" tasks the output is whether it was not None. The ``contract`` field is
not run, as EvalPlus's evaluation does not (HumanEval+'s canonical solutions carry their contract
asserts inline, so there they check the inputs of the reference, and of the reference only; in
MBPP+ v0.1.0 the contracts of Mbpp/267 and Mbpp/734 reject some plus inputs, judged nonetheless).

An input whose expected output is too large to carry is left out, with the reason, for the
reference and every candidate: over :data:`OUTPUT_BUDGET` values (refused by a wrapper before the
sandbox spends seconds encoding it), over the sandbox's message limit, or killed for memory or time.
In MBPP+ these are five plus inputs of Mbpp/255 (n = 76 and 77: 82,160 to 1.66 million tuples of
76 or 77 strings; EvalPlus's own run of its canonical solution fails them). A reference that raises
on an input is a harness error.

The cache: ``<cache dir>/evalplus/<dataset hash>-<python>-v<N>/<task>.bin``, the encoding of the
sandbox's codec, written atomically; an unreadable file is recomputed.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import sys
import tempfile
from pathlib import Path

from pytest_mlxbench.sandbox import Check, Limits, Sandbox
from pytest_mlxbench.sandbox.worker import codec
from pytest_mlxbench.suites.evalplus.oracle import MBPP_OUTPUT_NOT_NONE
from pytest_mlxbench.suites.evalplus.tasks import EvalPlusTask

CACHE_VERSION = 1
STAGES = ("base", "plus")
CALL_LIMIT_S = 60.0  # per input of the reference (EvalPlus sets none)
RUN_LIMIT_S = 600.0
LIMITS = Limits(cpu_seconds=int(RUN_LIMIT_S) + 1, address_space_bytes=4 * 1024**3)  # EvalPlus's memory cap
OUTPUT_BUDGET = 1_000_000  # values in one expected output (about 9 MB in the sandbox's encoding)
REFERENCE_ENTRY = "mlxbench_reference"
TOO_LARGE = "MlxbenchOutputTooLarge"
REFERENCE_WRAPPER = f"""

class {TOO_LARGE}(Exception):
    pass


def {REFERENCE_ENTRY}(*args):
    value = {{entry_point}}(*args)
    left, pending = {OUTPUT_BUDGET}, [value]
    while pending:
        item = pending.pop()
        left -= 1 + (len(item) // 8 if isinstance(item, (str, bytes, bytearray)) else 0)
        if left < 0:
            raise {TOO_LARGE}("over {OUTPUT_BUDGET:,} values")
        if isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            pending.extend(item)
    return {{returned}}
"""
REFERENCE_TEST = f"""
for arguments in DATA:
    try:
        value = candidate.call(arguments)
    except Exception as error:
        kind, name, message = getattr(error, "mlxbench_candidate", ("error", type(error).__name__, str(error)))
        if kind == "resource" or name == "{TOO_LARGE}":
            record({{"lost": f"its output is too large to carry ({{name}}: {{message}})"}})
        else:
            record({{"raised": f"{{name}}: {{message}}"}})
        continue
    except BaseException as error:
        if type(error).__name__ != "ReturnedUnencodable":
            raise
        record({{"lost": str(error)}})
        continue
    record({{"value": value, "seconds": candidate.last_call_s}})
"""


class ReferenceFailed(Exception):
    """The canonical solution raised on an input or would not run: the data is broken (a harness error)."""


@dataclasses.dataclass(frozen=True)
class Expected:
    """Per stage (``base``, ``plus``): one entry per input, ``{"value", "seconds"}`` or ``{"lost": why}``."""

    stages: dict

    def left_out(self) -> list[str]:
        """Each input left out, as ``plus input 85: <why>``."""
        return [f"{stage} input {index}: {entry['lost']}" for stage in STAGES
                for index, entry in enumerate(self.stages[stage]) if "lost" in entry]


def expected_outputs(sandbox: Sandbox, task: EvalPlusTask, digest: str, cache: Path | None = None) -> Expected:
    """The task's expected outputs, from the cache of this dataset version or computed now."""
    path = cache_file(task, digest, cache)
    cached = _read(path)
    if cached is not None and all(len(cached[stage]) == len(getattr(task, f"{stage}_input")) for stage in STAGES):
        return Expected(cached)
    program = reference_program(task)
    stages = {stage: _reference_run(sandbox, task, stage, program) for stage in STAGES}
    _write(path, stages)
    return Expected(stages)


def cache_file(task: EvalPlusTask, digest: str, cache: Path | None = None) -> Path:
    if cache is None:
        from pytest_mlxbench.backends.tinymodel import cache_root

        cache = cache_root() / "evalplus"
    version = f"{digest}-{sys.implementation.cache_tag}-{platform.machine()}-v{CACHE_VERSION}"
    return cache / version / (task.task_id.replace("/", "_") + ".bin")


def reference_program(task: EvalPlusTask) -> str:
    """The canonical solution and, called in its place, a wrapper that refuses an output over
    :data:`OUTPUT_BUDGET` values early (before the sandbox spends seconds encoding it) and, for the
    "is it None" tasks, returns whether the output is not None (the output itself may not cross)."""
    not_none = task.rules == "mbpp" and task.entry_point in MBPP_OUTPUT_NOT_NONE
    returned = "value is not None" if not_none else "value"
    return (task.prompt + task.canonical_solution).rstrip("\n") + "\n" + REFERENCE_WRAPPER.format(
        entry_point=task.entry_point, returned=returned)


def _reference_run(sandbox: Sandbox, task: EvalPlusTask, stage: str, program: str) -> list[dict]:
    """Every input's entry; after a run that ended early (timeout, killed), the input it ended on
    is left out and the rest run in a fresh one."""
    inputs = getattr(task, f"{stage}_input")
    entries: list[dict] = []
    while len(entries) < len(inputs):
        check = Check(REFERENCE_TEST, REFERENCE_ENTRY, data=inputs[len(entries):], call_timeout_s=CALL_LIMIT_S)
        run = sandbox.run(program, timeout_s=RUN_LIMIT_S, limits=LIMITS, check=check)
        entries.extend(run.outputs)
        raised = next((index for index, entry in enumerate(entries) if "raised" in entry), None)
        if raised is not None:
            raise ReferenceFailed(f"the canonical solution of {task.task_id} raises on {stage} input {raised} "
                                  f"({entries[raised]['raised']}): the input breaks the task's contract, or the "
                                  "data is broken")
        if len(entries) < len(inputs):
            entries.append({"lost": f"the reference's run ended here ({run.verdict}: {run.detail})"})
    return entries


def _read(path: Path) -> dict | None:
    try:
        stages = codec.decode(path.read_bytes())
    except (OSError, codec.DecodeError):
        return None
    return stages if isinstance(stages, dict) and set(stages) == set(STAGES) else None


def _write(path: Path, stages: dict) -> None:
    """Atomically (pytest-xdist workers may write the same task); a cache that cannot be written
    is no error: the outputs are computed again next time."""
    temporary = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(handle, "wb") as file:
            file.write(codec.encode(stages))
        os.replace(temporary, path)
    except OSError:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
