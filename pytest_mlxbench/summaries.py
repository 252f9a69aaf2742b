"""Running a suite's ``bench_summarize(samples) -> rows`` on the controller.

The controller may never have collected the suite module (pytest-xdist), so the function is
found from the reference its items carried (``records.summarizer_ref``): by module name when that
module is importable, else by loading the file that defines it. Its rows are normalised and
checked exactly like ``record_metric`` rows; any failure is ``SummaryFailed``, a harness error.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
import traceback
from pathlib import Path

from .envelope import result_row_problems


class SummaryFailed(Exception):
    """The summary raised or returned rows the envelope cannot hold; the message is one line."""


def run_summary(ref: dict, samples: list[dict]) -> list[dict]:
    summarize = _load(ref)
    try:
        rows = [_checked(row) for row in summarize(samples)]
    except SummaryFailed:
        raise
    except Exception as error:
        where = traceback.extract_tb(error.__traceback__)[-1]
        raise SummaryFailed(f"{type(error).__name__}: {error} (at {Path(where.filename).name}:{where.lineno})") from None
    return rows


def _checked(row) -> dict:
    if not isinstance(row, dict):
        raise SummaryFailed(f"a row must be a dict, got {type(row).__name__}: {str(row)[:100]}")
    from .envelope import plain_row

    row = plain_row(row)
    problems = result_row_problems(row)
    if problems:
        raise SummaryFailed(f"row {row.get('name')!r} breaks the envelope schema: {'; '.join(problems)}")
    return row


def _load(ref: dict):
    module = sys.modules.get(ref["module"])
    if module is None or _file_of(module) != ref["file"]:
        module = _import(ref)
    target = module
    try:
        for part in ref["qualname"].split("."):
            target = getattr(target, part)
    except AttributeError:
        raise SummaryFailed(f"{ref['file']} has no {ref['qualname']}") from None
    return target


def _import(ref: dict):
    try:
        module = importlib.import_module(ref["module"])
        if _file_of(module) == ref["file"]:
            return module
    except Exception:  # a test module's name is not always importable from here
        pass
    path = Path(ref["file"])
    name = f"_mlxbench_summary_{hashlib.sha1(str(path).encode()).hexdigest()[:12]}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SummaryFailed(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))  # the suite's sibling imports, as pytest's rootdir-relative import
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        raise SummaryFailed(f"importing {path.name} failed: {type(error).__name__}: {error}") from None
    finally:
        sys.path.remove(str(path.parent))
    sys.modules[name] = module
    return module


def _file_of(module) -> str | None:
    file = getattr(module, "__file__", None)
    return str(Path(file).resolve()) if file else None
