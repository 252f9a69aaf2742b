"""Options of the serving load sweep (``bench_suites/test_serving.py``) and of the managed server's
batching (``server_args``: arguments the plugin adds when it starts ``mlx_lm.server``)."""

from __future__ import annotations

import math
from pathlib import Path

from pytest_mlxbench.errors import BenchInputError
from pytest_mlxbench.settings import Option

SLO_METRICS = ("ttft", "tpot", "e2el")


def rates(text: str, origin: Path) -> tuple[float, ...]:
    try:
        values = tuple(float(part) for part in text.replace(" ", "").split(",") if part)
    except ValueError:
        values = ()
    if not values or not all(math.isfinite(value) and value > 0 for value in values):
        raise BenchInputError(f"--load-rate {text!r} needs one or more positive request rates (req/s), e.g. 2,8")
    return values


def slo(text: str, origin: Path) -> dict[str, float]:
    """``ttft=MS,tpot=MS,e2el=MS`` (any of them) as {metric: milliseconds}."""
    limits = {}
    for part in text.replace(" ", "").split(","):
        name, _, value = part.partition("=")
        try:
            milliseconds = float(value)
        except ValueError:
            milliseconds = -1.0
        if name not in SLO_METRICS or not math.isfinite(milliseconds) or milliseconds <= 0:
            raise BenchInputError(f"--load-slo {text!r}: give limits in milliseconds as "
                                  f"{'=MS,'.join(SLO_METRICS)}=MS (any of them), e.g. --load-slo ttft=500,tpot=50")
        limits[name] = milliseconds
    return limits


OPTIONS = (
    Option("--load-concurrency", "N,N,..", "serving: closed-loop points, N requests always in flight (the sweep "
           "runs when this or --load-rate is given; on the built-in tiny model: 1,4)", kind="int_list",
           tiny_default="1,4"),
    Option("--load-rate", "R,R,..", "serving: open-loop points, Poisson arrivals at R requests/s", parse=rates),
    Option("--load-requests", "N", "serving: requests per point (default 32 unless --load-duration is given)",
           kind="int", minimum=1),
    Option("--load-duration", "SECONDS", "serving: seconds per point instead of a request count", kind="number",
           minimum=0.001),
    Option("--load-prompt-tokens", "N", "serving: prompt length in tokens, random and unique per request "
           "(on the built-in tiny model: 32)", "128", kind="int", minimum=1, tiny_default="32"),
    Option("--load-output-tokens", "N", "serving: tokens generated per request (on the built-in tiny model: 16)",
           "128", kind="int", minimum=2, tiny_default="16"),
    Option("--load-slo", "ttft=MS,tpot=MS,e2el=MS", "serving: SLOs for goodput (requests/s meeting all of them)",
           parse=slo),
    Option("--server-decode-concurrency", "N", "managed mlx_lm.server: requests decoded as one batch "
           "(mlx_lm.server's default 32)", kind="int", minimum=1),
    Option("--server-prompt-concurrency", "N", "managed mlx_lm.server: prompts prefilled as one batch "
           "(mlx_lm.server's default 8)", kind="int", minimum=1),
)


def one_request_budget(settings) -> None:
    if settings.load_requests is not None and settings.load_duration is not None:
        raise BenchInputError("--load-requests and --load-duration both given: give one of them per point")


CHECKS = (one_request_budget,)


def server_args(settings) -> tuple[str, ...]:
    """mlx_lm.server arguments from these options (batching is on by default in mlx_lm.server)."""
    arguments = []
    if settings.server_decode_concurrency is not None:
        arguments += ["--decode-concurrency", str(settings.server_decode_concurrency)]
    if settings.server_prompt_concurrency is not None:
        arguments += ["--prompt-concurrency", str(settings.server_prompt_concurrency)]
    return tuple(arguments)
