"""Options of the ttft suite."""

from pytest_mlxbench.settings import Option

OPTIONS = (
    Option("--ttft-requests", "N", "ttft: number of streamed requests", "10", kind="int", minimum=1),
)
