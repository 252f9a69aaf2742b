"""Options of the coding suite."""

from pytest_mlxbench.settings import Option

OPTIONS = (
    Option("--coding-dataset", "FILE", "coding: an MBPP problems file instead of the shipped MBPP+ (MBPP+'s format "
           "or MBPP's original JSON lines: text, code, test_list, test_setup_code; .gz ok)", kind="file"),
)
