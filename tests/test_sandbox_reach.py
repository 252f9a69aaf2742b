"""Nothing to reach: the filesystem is an allow-list, no network, no sockets of other families,
no keyrings, no ptrace, no namespaces or mounts, no other process to signal or re-limit, IPC and
disk per candidate, memory and processes limited across all of a candidate's processes, and
neither a deep directory tree nor signals can crash the machinery.

The attacks live in ``support/sandbox_attacks.py`` (shared with the non-root run); each is
followed by the canonical solution, which must still pass."""

from __future__ import annotations

import dataclasses
import os
import signal
import stat
import time
from pathlib import Path

import pytest
from support.sandbox_attack_run import Fixtures, run_attack
from support.sandbox_attacks import ATTACKS, CANONICAL, MEMORY_LIMIT, TEST

from pytest_mlxbench.sandbox import Check, Sandbox
from pytest_mlxbench.sandbox.janitor import remove_tree

PROJECT = str(Path(__file__).resolve().parents[1])
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
