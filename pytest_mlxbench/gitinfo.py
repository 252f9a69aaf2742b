"""Which version of the suite code ran: its git commit, or an honest stand-in with a note."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path


def suite_code_sha(suite_file: Path) -> tuple[str, list[str]]:
    """The commit holding the suite file, plus notes for the envelope's ``errors``.

    Outside a git repository there is no commit: the git blob id of the file's content
    (what ``git hash-object`` prints) stands in, and a note says so.
    """
    directory = suite_file.parent
    sha = _git(directory, "rev-parse", "HEAD")
    if sha:
        notes = []
        if _git(directory, "status", "--porcelain", "--", suite_file.name):
            notes.append(f"git_sha: {suite_file.name} has uncommitted changes; git_sha is the commit they sit on")
        return sha, notes
    blob = blob_sha(suite_file.read_bytes())
    return blob, [f"git_sha: {directory} is not in a git repository with commits; "
                  f"git_sha is the git blob id of {suite_file.name} instead"]


def blob_sha(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def _git(directory: Path, *args: str) -> str | None:
    try:
        result = subprocess.run(
            ["git", *args], cwd=directory, capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None
