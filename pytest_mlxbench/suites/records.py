"""Reading a suite's data file: JSON lines (gzipped or not) into dicts, with one-line errors.

The answer-checked suites (reasoning, math-hard, knowledge) read their shipped data and the files
users give them through this module, so a missing file, a line that is not JSON or a record that
is not an object is one line naming the file, the line and the fix.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from pytest_mlxbench.errors import BenchInputError

GZIP_MAGIC = b"\x1f\x8b"


def read_text(path: Path, what: str) -> str:
    """The text of ``path`` (gunzipped when it is gzip), or one line saying why it cannot be read."""
    if not path.is_file():
        raise BenchInputError(f"{what} {path} is not an existing file: give the path of a file")
    try:
        raw = path.read_bytes()
        if raw.startswith(GZIP_MAGIC):
            raw = gzip.decompress(raw)
        return raw.decode("utf-8-sig")
    except (OSError, EOFError, UnicodeDecodeError, gzip.BadGzipFile) as error:
        raise BenchInputError(f"{what} {path} cannot be read ({error}): give a UTF-8 text file, gzipped or not") from None


def read_json_lines(path: Path, what: str) -> list[tuple[str, dict]]:
    """``(where, record)`` for each non-blank line of a JSON-lines file; ``where`` is ``path:line``."""
    records = []
    for number, line in enumerate(read_text(path, what).splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise BenchInputError(f"{where}: not valid JSON ({error.msg}): {what} needs one JSON object per line") from None
        if not isinstance(record, dict):
            raise BenchInputError(f"{where}: a {type(record).__name__}, not a JSON object: {what} needs one object per line")
        records.append((where, record))
    if not records:
        raise BenchInputError(f"{what} {path} holds no records: give a JSON-lines file with one object per line")
    return records


def text_field(record: dict, key: str, where: str, fmt: str) -> str:
    """``record[key]`` as a non-empty string, or one line naming the field and the format."""
    value = record.get(key)
    if not isinstance(value, str) or not value.strip():
        raise BenchInputError(f"{where}: field {key!r} is missing or not a non-empty string ({fmt})")
    return value


def unique_ids(ids: list[str], what: str) -> None:
    seen = set()
    for case_id in ids:
        if case_id in seen:
            raise BenchInputError(f"{what}: the id {case_id!r} appears twice: ids must be unique")
        seen.add(case_id)
