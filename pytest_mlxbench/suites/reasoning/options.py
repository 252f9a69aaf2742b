"""Options of the reasoning suite."""

from pytest_mlxbench.settings import Option

OPTIONS = (
    Option("--reasoning-dataset", "FILE", "reasoning: a GSM8K-format JSON-lines file (.gz ok; default: the shipped "
           "GSM8K test split)", kind="file"),
)
