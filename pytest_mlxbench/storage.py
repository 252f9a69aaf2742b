"""Envelope files: checking the output directory up front, atomic never-overwriting writes (with a
fallback directory when the output directory fails at the end), and reading envelopes back
(baselines, the newest envelope per suite and model)."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import secrets
import tempfile
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from . import envelope as contract
from .errors import BenchInputError


def slug(text: str, limit: int = 60) -> str:
    """A file-name-safe short form of a model name or path."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", text.strip("/")).strip("-.")
    return cleaned[-limit:] or "model"


def envelope_stem(envelope: dict) -> str:
    """time_sha_suite_model: the file name of an envelope (also of an invalid one)."""
    try:
        started = datetime.fromisoformat(str(envelope.get("timestamp")).replace("Z", "+00:00"))
        stamp = started.strftime("%Y%m%dT%H%M%SZ")
    except ValueError:
        stamp = "bad-timestamp"
    parts = (stamp, str(envelope.get("git_sha"))[:12], str(envelope.get("suite")), str(envelope.get("model")))
    return "_".join(slug(part) for part in parts)


PROBE_BYTES = 64 * 1024  # about what a run's envelopes take; a full disk fails on the first byte
TEMP_PREFIX = ".tmp-"  # files being written; one left behind by a crash is never a result
FALLBACK_PREFIX = "mlxbench-unsaved-"


def probe_directory(directory: Path, option: str = "--bench-out") -> None:
    """Create the directory and write a probe file in it, so a directory that cannot hold the
    results is one line before anything runs, not a lost run at its end. What the probe created
    is removed again: a run that writes nothing leaves nothing, and pytest-xdist workers, which
    take rootdir hints from existing paths on the command line, see what the controller saw."""
    missing = list(itertools.takewhile(lambda path: not path.exists(), (directory, *directory.parents)))
    try:
        _make_and_probe(directory, option)
    finally:
        for path in missing:  # deepest first
            with contextlib.suppress(OSError):
                path.rmdir()


def _make_and_probe(directory: Path, option: str) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise BenchInputError(f"{option} {directory} is a file, not a directory: give a directory "
                              "(it is created if missing)") from None
    except NotADirectoryError:
        blocker = next(parent for parent in directory.parents if parent.exists() and not parent.is_dir())
        raise BenchInputError(f"{option} {directory} cannot be created: {blocker} is a file, not a directory; "
                              "give another directory") from None
    except OSError as error:
        raise BenchInputError(f"{option} {directory} cannot be created ({error.strerror or error}): "
                              "give a writable directory") from None
    try:
        _write_temporary(directory, b"\0" * PROBE_BYTES).unlink()
    except OSError as error:
        raise BenchInputError(f"{option} {directory} is not writable ({error.strerror or error}): "
                              "free space, fix its permissions or give another directory") from None


def fallback_directory() -> Path:
    """A new directory in the system's temporary directory, for results the output directory
    could not take (raises OSError when that fails too)."""
    return Path(tempfile.mkdtemp(prefix=FALLBACK_PREFIX))


def write_envelope(envelope: dict, out_dir: Path) -> Path:
    """Write atomically under a name no earlier run holds; returns the path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    data = json.dumps(envelope, indent=2, sort_keys=False, ensure_ascii=False) + "\n"
    return _publish(out_dir, envelope_stem(envelope), ".json", data)


def write_lines(out_dir: Path, stem: str, suffix: str, records: list[dict]) -> Path:
    data = "".join(json.dumps(record, ensure_ascii=False, default=str) + "\n" for record in records)
    return _publish(out_dir, stem, suffix, data)


def _publish(out_dir: Path, stem: str, suffix: str, data: str) -> Path:
    """Write to a temporary file, then hard-link it to the first free name: never a partial
    file, never an overwrite, even when two sessions finish in the same second."""
    temporary = _write_temporary(out_dir, data.encode("utf-8"))
    try:
        for attempt in range(1, 1000):
            target = out_dir / (f"{stem}{suffix}" if attempt == 1 else f"{stem}-{attempt}{suffix}")
            try:
                os.link(temporary, target)
                return target
            except FileExistsError:
                continue
        raise FileExistsError(f"no free file name for {stem}{suffix} in {out_dir}")
    finally:
        temporary.unlink()


def _write_temporary(directory: Path, data: bytes) -> Path:
    """A new ``.tmp-*`` file holding ``data``, on disk. Created with mode 0666 less the user's
    umask, as any file the user writes (``mkstemp`` would make results private: 0600)."""
    while True:
        path = directory / f"{TEMP_PREFIX}{secrets.token_hex(8)}.tmp"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


class Envelopes(list):
    """Envelopes read back (a list), with ``notes``: one line per file of a directory passed over."""

    def __init__(self, envelopes: Iterable[dict] = (), notes: Iterable[str] = ()):
        super().__init__(envelopes)
        self.notes = list(notes)


def load_envelopes(path: str | Path) -> Envelopes:
    """Envelopes of a file, or of a directory (``*.json``, recursively): newest per (suite, model)."""
    envelopes, notes = _envelopes_at(Path(path))
    return Envelopes(newest_per_suite_model(envelopes), notes)


def load_baseline(path: str | Path) -> Envelopes:
    """Baseline envelopes: like ``load_envelopes``, but a skipped suite run is never a baseline."""
    envelopes, notes = _envelopes_at(Path(path))
    return Envelopes(newest_per_suite_model(env for env in envelopes if not env.get("skipped")), notes)


def envelope_files(path: str | Path) -> list[tuple[Path, dict]]:
    """Every envelope of a file or directory (recursively; ``*.invalid.json`` and what a crash
    mid-write leaves are passed over), each with its file, in file-name order."""
    return _envelope_files_noted(Path(path))[0]


def _envelopes_at(path: Path) -> tuple[list[dict], list[str]]:
    pairs, notes = _envelope_files_noted(path)
    return [envelope for _, envelope in pairs], notes


def _envelope_files_noted(path: Path) -> tuple[list[tuple[Path, dict]], list[str]]:
    """The envelopes at ``path`` with their files, and a note per file passed over. In a directory,
    what a crash mid-write leaves (a ``.tmp-*`` file, a file cut short) is passed over with a note;
    a given file, or a directory file that is whole JSON but no envelope, is an error."""
    if not path.is_dir():
        if not path.exists():
            raise BenchInputError(f"{path} does not exist; give an envelope file or a directory of them")
        return [(path, _read_envelope(path))], []
    # the plugin keeps envelopes that broke the contract as *.invalid.json: never results
    files = sorted(file for file in path.rglob("*.json") if not file.name.endswith(".invalid.json"))
    envelopes, notes = [], []
    for file in files:
        if file.name.startswith(TEMP_PREFIX):
            notes.append(f"ignored {file}: a temporary file left by an interrupted write")
            continue
        try:
            envelopes.append((file, _read_envelope(file)))
        except NotWholeJson as error:
            notes.append(f"ignored {file}: {error.reason} (a partial file left by an interrupted write?)")
    if not envelopes:
        more = f", and {len(notes) - 1} more" if len(notes) > 1 else ""
        passed_over = f" ({notes[0]}{more})" if notes else ""
        raise BenchInputError(f"no envelope (*.json) in directory {path}{passed_over}; point to a results directory")
    return envelopes, notes


class NotWholeJson(BenchInputError):
    """A file whose text is not whole JSON: in a directory, what a write cut short leaves."""

    def __init__(self, file: Path, reason: str):
        super().__init__(f"{file}: {reason}; give a pytest-mlxbench envelope")
        self.reason = reason


def newest_per_suite_model(envelopes: Iterable[dict]) -> list[dict]:
    """For each (suite, model), the envelope with the latest timestamp (input order breaks ties)."""
    newest: dict[tuple[str, str], dict] = {}
    for envelope in envelopes:
        key = (envelope["suite"], envelope["model"])
        if key not in newest or _timestamp(envelope) >= _timestamp(newest[key]):
            newest[key] = envelope
    return sorted(newest.values(), key=lambda env: (env["suite"], env["model"]))


def _read_envelope(file: Path) -> dict:
    try:
        data = json.loads(file.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise BenchInputError(f"cannot read {file}: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise NotWholeJson(file, f"not valid JSON ({exc})") from None
    problems = contract.validation_errors(data) if isinstance(data, dict) else ["$: not a JSON object"]
    if problems:
        raise BenchInputError(f"{file}: not a valid result envelope ({problems[0]}); give a pytest-mlxbench envelope")
    return data


def _timestamp(envelope: dict) -> datetime:
    moment = datetime.fromisoformat(envelope["timestamp"].replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
