"""Run untrusted, model-written code and decide, outside its process, whether it passed.

API
===
``Sandbox(workers=None)`` is a pool of workers (one per CPU by default); use it as a context
manager and reuse it. Three ways to run a candidate:

* **Judged** (the default for benchmarks)::

      result = sandbox.run(candidate_code, timeout_s=4, check=Check(
          test="def check(candidate):\\n    assert candidate(2, 3) == 5\\ncheck(candidate)\\n",
          entry_point="add",
          context=prompt,            # trusted definitions the test may use (e.g. a prompt's helpers)
      ))

  ``candidate_code`` runs in the candidate's process, which then serves calls. The ``test``
  runs in a separate *judge* process, with ``candidate`` and ``add`` bound to a proxy: calling
  it sends the arguments to the candidate and returns its result as plain data (None, bool,
  int, float incl. nan/inf, complex, str, bytes, list, tuple, set, frozenset, dict; no
  pickle), so the test's assertions are evaluated in the judge on those values. An object with
  a rigged ``__eq__`` cannot cross; a result that is not plain data ends the run with verdict
  ``unencodable``. An exception raised by the candidate is re-raised in the judge as its
  nearest builtin type (so ``pytest.raises``-style tests work). HumanEval's ``check(candidate)``,
  MBPP's ``assert f(x) == y`` lines (``f`` is the entry point; name other functions the asserts
  call in ``expose``) and EvalPlus-style input lists all fit::

      Check(entry_point="f", data={"inputs": [[1, 2], [3, 4]], "expected": [3, 7]}, test='''
      for index, (args, want) in enumerate(zip(DATA["inputs"], DATA["expected"])):
          got = candidate.call(args, timeout_s=0.5)    # a limit per input
          assert got == want or (isinstance(want, float) and abs(got - want) <= 1e-6), index
          record(index)                                 # plain data back in result.outputs
      ''')

  The test stops at its first failing assertion; ``result.failing_line`` is that line,
  ``result.outputs`` what it ``record()``-ed before, ``result.calls`` how many calls it made.
* **Outputs as data**: ``sandbox.call_all(code, "f", [[1, 2], [3, 4]], timeout_s=10,
  call_timeout_s=1)`` calls ``f`` on each argument list in one candidate process and returns, in
  ``outputs``, ``{"value": ..., "seconds": ...}`` or ``{"raised": "ValueError", "message": ...,
  "seconds": ...}`` per input (e.g. expected outputs from a reference solution).
* **In process** (``check=None``): ``program`` holds its own checks and passes if it returns;
  a nonce the zygote hands over only after the fork proves that it did. Code written against
  this runner could forge that, so such results carry ``isolation="in_process"``; use it only
  for tests a proxy cannot serve (one that inspects the candidate's source, say). A judged run
  whose test passes something that cannot cross processes (a function) says so with
  ``needs_in_process``.

``run_many(programs, checks=...)`` runs in parallel, results in order. Every run takes a
wall-clock ``timeout_s`` and :class:`Limits`. Verdicts: passed, failed (an assertion), error,
timeout, killed (a resource limit), unencodable. A broken sandbox raises :class:`SandboxError`
(a harness error, never a verdict). :attr:`Sandbox.isolation` says which protections are in
force and, in ``notes``, which are missing and why (also issued as a warning).

Process layout (Linux)
======================
::

    parent (pytest) --control socket + per-job pipes--> worker (python -I -S, own session)
        unshare(PID, NET, NS, IPC [, USER when not root]); pivot_root into the allow-list root
        zygote = PID 1 of the worker's namespaces; forks, per job:
          judge      own uid (root) | non-dumpable, seccomp; reads the check from the parent,
                     writes the verdict to the parent
          candidate  PID 1 of a nested PID namespace, new mount and IPC namespaces, its own
                     size/inode-limited tmpfs as /job, the worker's cgroup, rlimits, own uid
                     (root) | no capabilities, no new privileges, seccomp

* The candidate never holds the test, the expected values or any channel to the parent: its
  source arrives over a pipe it reads, and the judge's check and result travel on pipes whose
  ends the zygote passes on unread, so they are never in the memory later candidates are forked
  from. The candidate can neither name the judge (PID namespace) nor signal, trace or write
  to it (another uid as root; non-dumpable and seccomp otherwise).
* The filesystem is an allow-list (see ``worker/rootfs.py``): the interpreter, its stdlib,
  system libraries, a minimal ``/etc`` and ``/dev``, read-only; writable only ``/job``, which
  vanishes with the candidate's mount namespace. No shared directories at all.
* Limits per candidate: memory of all its processes, memfd, SysV shm and tmpfs together and
  ``pids.max`` through a cgroup made under this process's own cgroup (v2 where delegated, v1 as
  root); RLIMIT_AS/CPU/NPROC/FSIZE per process; output capped by the zygote.
* The zygote ignores SIGINT, SIGTERM and the like, and neither it nor the judge can be named
  by a candidate, so ``prlimit`` or signals cannot reach them.

Degraded modes
==============
* Linux, not root: an unprivileged user namespace gives the same namespaces, the allow-list
  root, the per-candidate tmpfs and seccomp, but candidate and judge share your uid (the judge is
  non-dumpable and unreachable by PID), and cgroups work only where your cgroup is delegated;
  otherwise memory is limited per process (RLIMIT_AS). Without user namespaces (e.g. Ubuntu's
  AppArmor restriction): no namespaces at all; candidates see the filesystem your uid sees,
  have the network, and job directories are removed by a janitor; seccomp (when libseccomp is
  installed) still blocks the listed system calls and all signals but to the candidate's own
  process group.
* macOS: workers run under ``sandbox-exec`` (no network), memory is polled (RLIMIT_AS is not
  enforced there) and the candidate is killed above the limit; no namespaces, cgroups, seccomp
  or allow-list root; as not root, candidate and judge share your uid. Untested here.
"""

from pytest_mlxbench.sandbox.host import FIRST_SANDBOX_UID
from pytest_mlxbench.sandbox.pool import Sandbox, run_program, run_programs
from pytest_mlxbench.sandbox.spec import (
    VERDICTS,
    Check,
    Isolation,
    Limits,
    SandboxError,
    SandboxResult,
    Verdict,
    default_timeout,
)
from pytest_mlxbench.sandbox.worker.watch import TAIL_BYTES

__all__ = [
    "FIRST_SANDBOX_UID", "TAIL_BYTES", "VERDICTS", "Check", "Isolation", "Limits", "Sandbox", "SandboxError",
    "SandboxResult", "Verdict", "default_timeout", "run_program", "run_programs",
]
