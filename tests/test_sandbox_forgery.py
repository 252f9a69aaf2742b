"""Forged passes: candidates that know our runner and try to get a pass without the right
answers (patched runner globals, settrace, fake modules, forged frames on every descriptor, an
execve'd child holding inherited descriptors, rigged ``__eq__``, early exits with status 0,
writes to the judge, reading the test's expected values from memory). Every one must end as
failed/error (or its own kind), and the canonical solution right after it must still pass.

The attacks live in ``support/sandbox_attacks.py`` (run by ``support/sandbox_attack_run.py``), shared
with the non-root run."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.sandbox_attack_run import Fixtures, run_attack
from support.sandbox_attacks import ATTACKS, MARKER, TEST, forging

from pytest_mlxbench.sandbox import Check, Sandbox

PROJECT = str(Path(__file__).resolve().parents[1])
FORGERIES = [attack for attack in ATTACKS if attack.forgery]


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(workers=1) as pool:
        yield pool


@pytest.fixture(scope="module")
def fixtures():
    made = Fixtures(PROJECT)
    yield made.values
    made.close()


@pytest.mark.parametrize("attack", FORGERIES, ids=[attack.name for attack in FORGERIES])
def test_a_forged_pass_is_not_a_pass(sandbox, fixtures, attack):
    result, outcome = run_attack(sandbox, attack, fixtures)
    assert result.verdict in ("failed", "error", "unencodable", "killed", "timeout"), result.detail
    assert outcome.leaks == []
    assert outcome.canonical_after == "passed"


def test_the_memory_scan_would_find_the_marker_were_it_there(sandbox, fixtures):
    """Control for the memory-reading attack: with the marker in the candidate's own memory, the
    very same scan reports it, so its silence above means the test text was not there."""
    [scan] = [attack for attack in FORGERIES if "memory" in attack.name]
    planted = f"PLANTED = {MARKER!r}\n" + scan.source(fixtures)
    result = sandbox.run(planted, timeout_s=scan.timeout_s, check=Check(test="candidate(1, 2)\n", entry_point="add"))
    assert "LEAK found the test text" in result.stdout_tail


def test_a_candidate_that_patches_os_still_answers_honestly(sandbox):
    """Our serving code keeps its own os.read/os.write: patching them only breaks the candidate."""
    patch = "import os\nos.write = lambda fd, data: len(data)\nos.read = lambda fd, n: b'0' * 32\n"
    honest = patch + "\ndef add(a, b):\n    return a + b\n"
    assert sandbox.run(honest, timeout_s=10, check=Check(test=TEST, entry_point="add")).verdict == "passed"
    wrong = forging("os.write = lambda fd, data: len(data)")
    assert sandbox.run(wrong, timeout_s=10, check=Check(test=TEST, entry_point="add")).verdict == "failed"
