"""The regression gate: threshold rules turn result envelopes into pass/fail outcomes.

``rules`` parses rules files, ``stats`` holds the pure statistics (rank test, tail test, their
false-alarm rates), ``evidence`` reads what each run brings as evidence of its noise and picks
the test, ``evaluate`` turns rules × envelopes into outcomes, ``format`` writes numbers, and
``items`` (imported by the plugin only: it needs pytest and the session) makes rules pytest items.
"""

from .evaluate import Outcome, change_pct, evaluate, index_results, result_key
from .format import format_number, format_pct
from .rules import (
    Rule,
    infer_higher_is_better,
    load_rules,
    numeric_fields,
    rules_from_pyproject,
)

__all__ = [
    "Outcome",
    "Rule",
    "change_pct",
    "evaluate",
    "format_number",
    "format_pct",
    "index_results",
    "infer_higher_is_better",
    "load_rules",
    "numeric_fields",
    "result_key",
    "rules_from_pyproject",
]
