"""Accuracy suites keep a server busy: 400 BFCL cases (``BFCL_v4_simple_python``) through the
tool-calling suite against a stub that takes 50 ms per request, serial (``--bench-concurrency 1``)
and fanned out (``--bench-concurrency 16``), in one run.

The stub answers two cases in three with their reference call (the first allowed value of every
parameter) and the third with a wrong one, so both outcomes (pass, and a wrong answer shown as
xfail) are in the run. Goal (issue 15): the fanned-out run's wall time at most 1/8 of the serial
one, with identical scores (every case's verdict, and the accuracy rows); the wall time that
counts is pytest's run-test loop (the items), printed beside the whole run's (which adds
start-up, collection and writing the envelope, the same in both). Exits non-zero when missed.

    python benchmarks/accuracy_fanout.py [--bfcl DIR] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from support.timing_stub import TimingStub  # noqa: E402

CATEGORY = "BFCL_v4_simple_python.json"
REQUEST_MS = 50.0


def canned_replies(bfcl: Path, path: Path) -> Path:
    """{case's question: its reference call}, for two cases in three."""
    from support.bfcl_answers import first_answer_calls

    from pytest_mlxbench.suites.tool_calling.bfcl import load_cases

    replies = {}
    for index, case in enumerate(load_cases(bfcl / CATEGORY, bfcl / "possible_answer" / CATEGORY)):
        if index % 3 == 2:
            continue
        calls = [{"id": f"call-{index}-{number}", "type": "function",
                  "function": {"name": name, "arguments": json.dumps(arguments)}}
                 for number, call in enumerate(first_answer_calls(case)) for name, arguments in call.items()]
        question = [message for message in case.messages if message["role"] == "user"][-1]["content"]
        replies[question] = {"role": "assistant", "content": None, "tool_calls": calls}
    path.write_text(json.dumps(replies))
    return path


def run_suite(bfcl: Path, base_url: str, concurrency: int, out: Path) -> tuple[float, float, dict, dict]:
    command = [sys.executable, "-m", "pytest", str(ROOT / "bench_suites" / "test_tool_calling.py"), "-q",
               "-p", "no:cacheprovider", "--tool-cases", str(bfcl / CATEGORY),
               "--tool-answers", str(bfcl / "possible_answer" / CATEGORY), "--mlx-base-url", base_url,
               "--bench-concurrency", str(concurrency), "--bench-out", str(out)]
    timer = out.with_suffix(".loop")
    environment = {**os.environ, "PYTHONPATH": str(Path(__file__).parent), "MLXBENCH_LOOP_TIMER": str(timer)}
    started = time.perf_counter()
    done = subprocess.run([*command, "-p", "loop_timer"], capture_output=True, text=True, cwd=ROOT, env=environment)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"the suite failed at --bench-concurrency {concurrency}:\n{done.stdout[-2000:]}")
    [envelope] = [json.loads(path.read_text()) for path in out.glob("*tool-calling*.json")]
    [samples] = list(out.glob("*.samples.jsonl"))
    verdicts = {sample["id"]: sample["verdict"] for line in samples.read_text().splitlines()
                if (sample := json.loads(line))}
    accuracy = {row["name"]: row["value"] for row in envelope["results"] if row["name"].startswith("accuracy")}
    return float(timer.read_text()), wall, verdicts, accuracy


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bfcl", type=Path, default=ROOT.parent / "shared" / "datasets" / "bfcl")
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    if not (args.bfcl / CATEGORY).is_file():
        print(f"{args.bfcl / CATEGORY} not found: give --bfcl DIR (BFCL v4 with possible_answer/)")
        return 2
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        replies = canned_replies(args.bfcl, Path(scratch) / "replies.json")
        with TimingStub(first_ms=REQUEST_MS, replies=str(replies)) as stub:
            for concurrency in (1, args.concurrency):
                results[concurrency] = run_suite(args.bfcl, stub.base_url, concurrency, Path(scratch) / f"c{concurrency}")
    print(f"{len(results[1][2])} BFCL cases ({CATEGORY}), stub {REQUEST_MS:g} ms per request")
    print(f"{'--bench-concurrency':<20} {'items s':>8} {'whole run s':>12} {'accuracy_overall':>17}")
    for concurrency, (loop, wall, _, accuracy) in results.items():
        print(f"{concurrency:<20} {loop:>8.2f} {wall:>12.2f} {accuracy.get('accuracy_overall', float('nan')):>17.4f}")
    (serial, _, serial_verdicts, serial_accuracy), (fanned, _, verdicts, accuracy) = (
        results[1], results[args.concurrency])
    ratio = fanned / serial
    same = verdicts == serial_verdicts and accuracy == serial_accuracy
    print(f"ratio {ratio:.3f} (goal <= {1 / 8:.3f}); verdicts and accuracy rows identical: {same}")
    return 0 if ratio <= 1 / 8 and same else 1


if __name__ == "__main__":
    sys.exit(main())
