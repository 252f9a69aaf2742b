"""Options of the code-accuracy suite."""

from pathlib import Path

from pytest_mlxbench.errors import BenchInputError
from pytest_mlxbench.settings import Option


def code_dataset(text: str, origin: Path) -> str:
    """'humaneval', or the absolute path of an existing HumanEval-format file."""
    if text == "humaneval":
        return text
    path = (origin / Path(text).expanduser()).resolve()
    if not path.is_file():
        raise BenchInputError(
            f"--code-dataset {text!r} is neither 'humaneval' nor an existing file: "
            "give 'humaneval' or the path of a HumanEval-format JSON-lines file"
        )
    return str(path)


OPTIONS = (
    Option("--code-dataset", "NAME_OR_FILE", "code-accuracy: 'humaneval' or a HumanEval-format JSON-lines file (.gz ok)",
           parse=code_dataset),
    Option("--code-samples", "N", "code-accuracy, coding, evalplus: samples per problem (more than 1 needs "
           "--temperature > 0)", "1",
           kind="int", minimum=1),
    Option("--code-timeout", "SECONDS", "code-accuracy, coding: seconds per candidate (default: scaled from the "
           "canonical solution)", kind="number", minimum=0.001),
)


def samples_need_temperature(settings) -> None:
    if settings.code_samples > 1 and settings.temperature <= 0:
        raise BenchInputError(
            f"--code-samples {settings.code_samples} needs --temperature above 0 "
            "(greedy decoding would draw the same sample every time)"
        )


CHECKS = (samples_need_temperature,)
