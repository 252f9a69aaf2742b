"""Command line: ``python -m pytest_mlxbench report ENVELOPE_OR_DIR... --out DIR``.

Exit status: 0 page written (and every threshold passed), 1 a threshold failed, 2 bad input.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pytest_mlxbench.errors import BenchInputError

PROG = "python -m pytest_mlxbench"


class _OneLineParser(argparse.ArgumentParser):
    """Usage errors as one line on stderr and exit status 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(prog=PROG, description="Tools for pytest-mlxbench result envelopes.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    report = commands.add_parser(
        "report",
        help="write an HTML report with plots",
        description="Write index.html and PNG plots from result envelopes. Prints the threshold "
        "table (with --thresholds) and then the page's path. Exit 1 when a threshold fails.",
    )
    report.add_argument("inputs", nargs="+", metavar="ENVELOPE_OR_DIR", help="envelope files or directories of them")
    report.add_argument("--out", required=True, metavar="DIR", help="directory to write index.html and plots into")
    report.add_argument("--baseline", metavar="PATH", help="baseline envelope file or directory of earlier envelopes")
    report.add_argument("--thresholds", metavar="FILE", help="TOML file of [[rule]] tables, or a pyproject.toml")
    report.add_argument("--history", action="store_true",
                        help="also write history.html: every envelope's headlines over time per model, marked where "
                        "the gate (--thresholds, else a 5%% rule) would have failed a run against the previous one")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _report(args)
    except BenchInputError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2


def _report(args: argparse.Namespace) -> int:
    from pytest_mlxbench import gate, storage
    from pytest_mlxbench.report import format_outcomes_table, write_report

    envelopes = storage.newest_per_suite_model(env for path in args.inputs for env in storage.load_envelopes(path))
    baseline = storage.load_baseline(args.baseline) if args.baseline else None
    outcomes = None
    if args.thresholds:
        outcomes = gate.evaluate(gate.load_rules(args.thresholds), envelopes, baseline)
        print(format_outcomes_table(outcomes))
    if args.history:
        from pytest_mlxbench.report.history import write_history

        every = [envelope for path in args.inputs for _, envelope in storage.envelope_files(path)]
        print(write_history(every, args.out, gate.load_rules(args.thresholds) if args.thresholds else None))
    page = write_report(envelopes, args.out, baseline=baseline, outcomes=outcomes,
                        links=["history.html"] if args.history else ())
    print(page)
    return 1 if outcomes and any(outcome.status == "failed" for outcome in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
