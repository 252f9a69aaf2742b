"""Options of the tool-calling suite."""

from pytest_mlxbench.errors import BenchInputError
from pytest_mlxbench.settings import Option

OPTIONS = (
    Option("--tool-cases", "FILE", "tool-calling: BFCL-format question file (default: the shipped cases)",
           kind="file"),
    Option("--tool-answers", "FILE", "tool-calling: BFCL-format possible-answer file for --tool-cases", kind="file"),
)


def answers_need_cases(settings) -> None:
    if settings.tool_answers and not settings.tool_cases:
        raise BenchInputError("--tool-answers needs --tool-cases: give the question file it belongs to")


CHECKS = (answers_need_cases,)
