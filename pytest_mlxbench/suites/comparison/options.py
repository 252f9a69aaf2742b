"""Options of the capability comparison."""

from pytest_mlxbench.settings import Option

OPTIONS = (
    Option("--bench-compare", "DIR [DIR..]", "capability-comparison: earlier result directories whose envelopes "
           "join this run's comparison (marked as earlier runs, never re-run)", kind="existing_path",
           attribute="compare_dirs", multiple=True, nargs="+"),
)


def compare_dirs_hold_envelopes(settings) -> None:
    from pytest_mlxbench.suites.comparison.runs import earlier_runs

    earlier_runs(settings.compare_dirs)  # bad input is one line now, not at the session's end


CHECKS = (compare_dirs_hold_envelopes,)
