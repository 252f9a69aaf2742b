"""Hostile candidates written against our runner (``support/sandbox_attacks.py``, run by
``support/sandbox_attack_run.py`` and shared with the non-root runs), each followed by the
canonical solution, which must still pass.

Forged passes (patched runner globals, settrace, fake modules, forged frames on every descriptor,
an execve'd child holding inherited descriptors, rigged ``__eq__``, early exits with status 0,
writes to the judge, reading the test's expected values from memory) must end as failed/error
(or their own kind). Nothing outside may be reached: the filesystem is an allow-list, no
network, no sockets of other families, no keyrings, no ptrace, no namespaces or mounts, no
other process to signal or re-limit, IPC and disk per candidate, memory and processes limited
across all of a candidate's processes, and neither a deep directory tree nor signals can crash
the machinery."""

from __future__ import annotations

import dataclasses
import os
import signal
import stat
import time
from pathlib import Path

import pytest
from support.sandbox_attack_run import Fixtures, run_attack
from support.sandbox_attacks import (
    ATTACKS,
    CANONICAL,
    MARKER,
    MEMORY_LIMIT,
    TEST,
    forging,
)

from pytest_mlxbench.sandbox import Check, Sandbox
from pytest_mlxbench.sandbox.janitor import remove_tree

PROJECT = str(Path(__file__).resolve().parents[1])
FORGERIES = [attack for attack in ATTACKS if attack.forgery]
REACHES = [attack for attack in ATTACKS if not attack.forgery]


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox(workers=1) as pool:
        yield pool


@pytest.fixture(scope="module")
def fixtures():
    made = Fixtures(PROJECT)
    yield made
    assert made.arrivals() == []  # no connection ever reached our listeners
    made.close()


# --- forged passes ------------------------------------------------------------------------


@pytest.mark.parametrize("attack", FORGERIES, ids=[attack.name for attack in FORGERIES])
def test_a_forged_pass_is_not_a_pass(sandbox, fixtures, attack):
    result, outcome = run_attack(sandbox, attack, fixtures.values)
    assert result.verdict in ("failed", "error", "unencodable", "killed", "timeout"), result.detail
    assert outcome.leaks == []
    assert outcome.canonical_after == "passed"


def test_the_memory_scan_would_find_the_marker_were_it_there(sandbox, fixtures):
    """Control for the memory-reading attack: with the marker in the candidate's own memory, the
    very same scan reports it, so its silence above means the test text was not there."""
    [scan] = [attack for attack in FORGERIES if "memory" in attack.name]
    planted = f"PLANTED = {MARKER!r}\n" + scan.source(fixtures.values)
    result = sandbox.run(planted, timeout_s=scan.timeout_s, check=Check(test="candidate(1, 2)\n", entry_point="add"))
    assert "LEAK found the test text" in result.stdout_tail


def test_a_candidate_that_patches_os_still_answers_honestly(sandbox):
    """Our serving code keeps its own os.read/os.write: patching them only breaks the candidate."""
    patch = "import os\nos.write = lambda fd, data: len(data)\nos.read = lambda fd, n: b'0' * 32\n"
    honest = patch + "\ndef add(a, b):\n    return a + b\n"
    assert sandbox.run(honest, timeout_s=10, check=Check(test=TEST, entry_point="add")).verdict == "passed"
    wrong = forging("os.write = lambda fd, data: len(data)")
    assert sandbox.run(wrong, timeout_s=10, check=Check(test=TEST, entry_point="add")).verdict == "failed"


# --- nothing outside is reached --------------------------------------------------------


@pytest.mark.parametrize("attack", REACHES, ids=[attack.name for attack in REACHES])
def test_nothing_outside_is_reached(sandbox, fixtures, attack):
    if attack.needs and not getattr(sandbox.isolation, attack.needs):
        pytest.skip(f"{attack.needs} is not in force here: {'; '.join(sandbox.isolation.notes)}")
    result, outcome = run_attack(sandbox, attack, fixtures.values)
    assert result.verdict != "passed"
    assert outcome.leaks == []
    assert outcome.canonical_after == "passed"
    if attack.needs == "memory_cgroup":
        assert result.verdict == "killed" and result.peak_memory_bytes <= MEMORY_LIMIT


def test_the_zygote_ignores_the_signals_a_same_uid_candidate_could_send(sandbox):
    [outer] = sandbox.worker_pids
    zygote = int(Path(f"/proc/{outer}/task/{outer}/children").read_text().split()[0])
    assert zygote > 1
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGALRM):
        os.kill(zygote, number)
        os.kill(outer, number)
    time.sleep(0.2)
    assert sandbox.run(CANONICAL, timeout_s=10, check=Check(test=TEST, entry_point="add")).passed


def test_the_janitor_removes_a_deep_hostile_tree_without_recursion(tmp_path):
    tree = tmp_path / "job"
    tree.mkdir()
    cursor = str(tree)
    os.chdir(cursor)
    try:
        for _ in range(2500):  # deeper than both Python's recursion limit and PATH_MAX
            os.mkdir("d")
            os.chdir("d")
        Path("bottom").write_text("x")
        os.symlink("/etc/passwd", "link")
        os.chmod(".", 0)  # a directory whose owner took every permission away
    finally:
        os.chdir(tmp_path)
    remove_tree(str(tree))
    assert sorted(os.listdir(tmp_path)) == []
    assert stat.S_ISREG(os.stat("/etc/passwd").st_mode)  # the symlink was removed, not followed


def test_close_leaves_no_job_directory_and_no_cgroup(fixtures):
    deep = dataclasses.replace([a for a in ATTACKS if "2,500" in a.name][0])
    with Sandbox(workers=1) as pool:
        base = pool._base_dir
        cgroup_dirs = [entry["dir"] for slot in pool._cgroups.workers[0] for entry in slot.values()]
        run_attack(pool, deep, fixtures.values)
    assert not os.path.exists(base)
    assert not any(os.path.exists(directory) for directory in cgroup_dirs)
