"""The degraded modes, for real: a copy of the sandbox and of the attacks runs as an unprivileged
uid (nobody) where this machine allows it, and, with the kernel refusing namespaces (a seccomp
filter on ``unshare`` in the driver, as in a container without CAP_SYS_ADMIN or under Ubuntu's
user-namespace restriction), as nobody and as root. Each must contain every attack whose
protection it has, and say, in its isolation notes and its warning, which protections it lacks."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from support import sandbox_attack_run, sandbox_attacks

from pytest_mlxbench import sandbox as sandbox_package

NOBODY = 65534
DRIVER = """
import sys, types
root, no_namespaces = sys.argv[1], sys.argv[2] == "no-namespaces"
sys.path[:0] = [root]
if no_namespaces:
    import errno, pyseccomp
    refusal = pyseccomp.SyscallFilter(pyseccomp.ALLOW)
    refusal.add_rule(pyseccomp.ERRNO(errno.EPERM), "unshare")
    refusal.load()
package = types.ModuleType("pytest_mlxbench")
package.__path__ = [root + "/pytest_mlxbench"]
sys.modules["pytest_mlxbench"] = package  # the sandbox alone, without the plugin and its dependencies
import sandbox_attack_run
sys.exit(sandbox_attack_run.main([root]))
"""


def interpreter_for_nobody() -> str | None:
    for name in ("python3", "python3.13", "python3.12", "python3.11"):
        found = shutil.which(name, path="/usr/local/bin:/usr/bin:/bin")
        if not found:
            continue
        probe = subprocess.run([found, "-c", "import sys; print(sys.version_info >= (3, 11))"], user=NOBODY,
                               group=NOBODY, extra_groups=[], capture_output=True, text=True, cwd="/")
        if probe.stdout.strip() == "True":
            return found
    return None


@pytest.fixture(scope="module")
def copy_for_nobody():
    """The sandbox package, the attacks and pyseccomp copied where nobody may read them."""
    directory = tempfile.mkdtemp(prefix="mlxbench-nonroot-")
    os.chmod(directory, 0o755)
    shutil.copytree(Path(sandbox_package.__file__).parent, Path(directory) / "pytest_mlxbench" / "sandbox",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for module in (sandbox_attacks, sandbox_attack_run):
        shutil.copy(module.__file__, directory)
    spec = importlib.util.find_spec("pyseccomp")
    if spec is not None and spec.origin:
        shutil.copy(spec.origin, directory)
    for path in Path(directory).rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    yield directory
    shutil.rmtree(directory)


MODES = {"nobody": (NOBODY, "namespaces"), "nobody, no namespaces": (NOBODY, "no-namespaces"),
         "root, no namespaces": (0, "no-namespaces")}


@pytest.mark.skipif(not sys.platform.startswith("linux") or os.geteuid() != 0,
                    reason="dropping to another uid needs root (and these modes are Linux's)")
@pytest.mark.parametrize("mode", [pytest.param(mode, marks=[pytest.mark.slow] if "no namespaces" in mode else [])
                                  for mode in MODES])
def test_a_degraded_mode_contains_every_attack_it_has_the_protection_for(copy_for_nobody, mode):
    uid, namespaces = MODES[mode]
    python = interpreter_for_nobody()
    if python is None:
        pytest.skip("no Python 3.11+ that an unprivileged user may run (e.g. /usr/bin/python3)")
    if namespaces == "no-namespaces" and importlib.util.find_spec("pyseccomp") is None:
        pytest.skip("refusing namespaces needs pyseccomp")
    completed = subprocess.run([python, "-I", "-c", DRIVER, copy_for_nobody, namespaces], user=uid, group=uid,
                               extra_groups=[], capture_output=True, text=True, timeout=300, cwd="/")
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(completed.stdout.splitlines()[-1])
    isolation = report["isolation"]

    assert report["uid"] == uid
    assert isolation["separate_uid"] == isolation["judge_separate_uid"] == (uid == 0)
    if uid != 0:
        assert any("not root" in note for note in isolation["notes"])
    if namespaces == "no-namespaces":
        assert not isolation["network_isolated"] and not isolation["pid_namespace"]
        assert any(note.startswith("no namespaces (unshare: Operation not permitted)") for note in isolation["notes"])
    assert any("degraded" in warning for warning in report["warnings"])
    for missing in ("memory_cgroup", "pids_cgroup", "seccomp", "network_isolated", "filesystem_protected"):
        if not isolation[missing]:  # whatever is missing is said, with its reason
            assert any(word in note for note in isolation["notes"] for word in (missing.split("_")[0], "namespaces"))

    needs = {attack.name: attack.needs for attack in sandbox_attacks.ATTACKS}
    for outcome in report["outcomes"]:
        assert outcome["verdict"] != "passed", outcome
        assert outcome["canonical_after"] == "passed", outcome
        protection = needs[outcome["name"]]
        if protection is None or isolation[protection]:
            assert outcome["leaks"] == [], outcome
    if isolation["network_isolated"]:
        assert report["arrivals"] == []
