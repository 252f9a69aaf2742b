"""Options of the evalplus suite."""

from pathlib import Path

from pytest_mlxbench.errors import BenchInputError
from pytest_mlxbench.settings import Option

NAMES = ("mbpp+", "humaneval+")


def evalplus_dataset(text: str, origin: Path) -> str | None:
    """None for the shipped MBPP+, 'humaneval+', or the absolute path of an existing file."""
    if text == "mbpp+":
        return None
    if text == "humaneval+":
        return text
    path = (origin / Path(text).expanduser()).resolve()
    if not path.is_file():
        raise BenchInputError(f"--evalplus-dataset {text!r} is neither mbpp+, humaneval+ nor an existing file: "
                              "give a name or the path of an EvalPlus-format JSON-lines file (.gz ok)")
    return str(path)


OPTIONS = (
    Option("--evalplus-dataset", "NAME_OR_FILE", "evalplus: mbpp+ (shipped), humaneval+ (through the evalplus "
           "package, which downloads it) or an EvalPlus-format JSON-lines file (.gz ok)", parse=evalplus_dataset),
)
