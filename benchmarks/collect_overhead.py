"""Collection must stay light: CPU time of ``pytest bench_suites --collect-only`` against an empty
pytest run in the same venv (both load every installed plugin, ours included), measured here in
one run. Prints the ratio; exits 1 above the target.

    python benchmarks/collect_overhead.py [--runs 7] [--target 1.3]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("openai", "mlx", "mlx_lm", "sympy", "math_verify", "langgraph", "smolagents", "agents", "pydantic_ai",
         "jsonschema")  # jsonschema: its format checkers compile grammars at import


# As users run it: Python caches bytecode (and pytest its rewritten test modules), so the first,
# unmeasured run of each command writes the caches the measured runs read.
ENVIRONMENT = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def cpu_seconds(args: list[str], cwd: Path) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
                   cwd=cwd, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENVIRONMENT)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def heavy_modules_after_collection() -> list[str]:
    probe = ("import sys, pytest; pytest.main(['bench_suites', '--collect-only', '-q', '-p', 'no:cacheprovider']);"
             f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))")
    output = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True).stdout
    return eval(output.strip().splitlines()[-1])  # the probe's own printed list


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--target", type=float, default=1.3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as empty:
        cpu_seconds([empty], Path(empty)), cpu_seconds(["bench_suites"], ROOT)  # warm the caches
        empty_times, suite_times = [], []
        for _ in range(args.runs):  # alternate, so machine load hits both alike
            empty_times.append(cpu_seconds([empty], Path(empty)))
            suite_times.append(cpu_seconds(["bench_suites"], ROOT))
    empty_s, suite_s = statistics.median(empty_times), statistics.median(suite_times)
    ratio = suite_s / empty_s
    heavy = heavy_modules_after_collection()
    print(f"empty pytest run     {empty_s:.3f} s CPU (median of {args.runs})")
    print(f"collect bench_suites {suite_s:.3f} s CPU (median of {args.runs})")
    print(f"ratio                {ratio:.2f} (target <= {args.target})")
    print(f"heavy modules imported by collection: {', '.join(heavy) or 'none'}")
    return 0 if ratio <= args.target and not heavy else 1


if __name__ == "__main__":
    sys.exit(main())
