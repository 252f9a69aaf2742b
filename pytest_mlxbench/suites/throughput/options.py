"""Options of the throughput suite (also read by ttft for its generation length)."""

from pytest_mlxbench.settings import Option

OPTIONS = (
    Option("--bench-prompt-lengths", "N,N,..", "throughput prompt lengths in tokens, comma-separated",
           "128,512,2048", kind="int_list", attribute="prompt_lengths", tiny_default="128,512"),
    Option("--bench-gen-tokens", "N", "throughput and ttft: tokens generated per request", "128", kind="int",
           minimum=2, attribute="gen_tokens", tiny_default="32"),
    Option("--bench-repeats", "N", "throughput: measured repeats per prompt length", "3", kind="int", minimum=1, attribute="repeats"),
)
