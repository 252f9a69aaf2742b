"""Options of the knowledge suite."""

from pathlib import Path

from pytest_mlxbench.errors import BenchInputError
from pytest_mlxbench.settings import Option

NAMES = ("arc-challenge", "mmlu", "mmlu-pro")


def knowledge_dataset(text: str, origin: Path) -> str | Path | None:
    """None for the shipped ARC-Challenge set, a hub name, or an existing file or directory."""
    if text == "arc-challenge":
        return None
    if text in NAMES:
        return text
    path = (origin / Path(text).expanduser()).resolve()
    if not path.exists():
        raise BenchInputError(f"--knowledge-dataset {text!r} is neither {', '.join(NAMES)} nor an existing file or "
                              "directory: give a name, a JSON-lines file or a directory of MMLU's CSV files")
    return path


OPTIONS = (
    Option("--knowledge-dataset", "NAME_OR_PATH", "knowledge: arc-challenge (shipped), mmlu or mmlu-pro (from the "
           "Hugging Face hub, needs datasets), a JSON-lines file (.gz ok) or a directory of MMLU's CSV files",
           parse=knowledge_dataset),
)
