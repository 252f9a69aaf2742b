"""Command-line options and ini keys, parsed once into a frozen Settings object.

Every option can also be set as an ini key (``[tool.pytest.ini_options]``); the
command line wins. Bad values raise BenchInputError with one line naming the
option and the fix.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from .ci import TRIGGERS, CiContext, detect_ci
from .errors import BenchInputError
from .models import check_model_reference

API_KEY_ENV = "MLXBENCH_API_KEY"


@dataclass(frozen=True)
class Option:
    flag: str
    metavar: str
    help: str
    default: str | None = None

    @property
    def ini_name(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    @property
    def dest(self) -> str:
        return "mlxbench_" + self.ini_name


OPTIONS = (
    Option("--mlx-model", "PATH_OR_ID", "mlx-lm model directory or Hugging Face id (default: the built-in tiny model)"),
    Option("--mlx-base-url", "URL", "OpenAI-compatible server to benchmark, e.g. http://127.0.0.1:8080/v1 "
           "(default: start mlx_lm.server for the model)"),
    Option("--mlx-api-key", "KEY", f"API key for --mlx-base-url (or env {API_KEY_ENV}); never written anywhere"),
    Option("--bench-out", "DIR", "directory for envelopes, sample logs and server logs", "bench-results"),
    Option("--bench-trigger", "TRIGGER", "what triggered the run: " + ", ".join(TRIGGERS) + " (default: from the CI environment)"),
    Option("--bench-limit", "N", "run at most N cases per suite"),
    Option("--max-tokens", "N", "maximum tokens generated per request", "512"),
    Option("--temperature", "T", "sampling temperature", "0.0"),
    Option("--seed", "N", "random seed for generation", "0"),
    Option("--bench-prompt-lengths", "N,N,..", "throughput prompt lengths in tokens, comma-separated", "128,512,2048"),
    Option("--bench-gen-tokens", "N", "throughput: tokens generated per repeat", "128"),
    Option("--bench-repeats", "N", "throughput: measured repeats per prompt length", "3"),
    Option("--ttft-requests", "N", "ttft: number of streamed requests", "10"),
    Option("--tool-cases", "FILE", "tool-calling: BFCL-format question file (default: the shipped cases)"),
    Option("--tool-answers", "FILE", "tool-calling: BFCL-format possible-answer file for --tool-cases"),
    Option("--code-dataset", "NAME_OR_FILE", "code-accuracy: 'humaneval' or a HumanEval-format JSON-lines file (.gz ok)"),
    Option("--code-samples", "N", "code-accuracy: samples per problem (more than 1 needs --temperature > 0)", "1"),
    Option("--code-timeout", "SECONDS", "code-accuracy: seconds per candidate (default: scaled from the canonical solution)"),
    Option("--bench-thresholds", "FILE", "TOML file of threshold rules (default: [tool.mlxbench] in pyproject.toml)"),
    Option("--bench-baseline", "PATH", "envelope file or directory of earlier envelopes to compare against"),
    Option("--bench-report", "DIR", "write an HTML report with plots to this directory"),
)


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("mlxbench", "LLM benchmarks (pytest-mlxbench)")
    for option in OPTIONS:
        default_note = f" [default: {option.default}]" if option.default else ""
        group.addoption(option.flag, dest=option.dest, metavar=option.metavar, default=None,
                        help=option.help + default_note)
        parser.addini(option.ini_name, option.help, default=None)


@dataclass(frozen=True)
class Settings:
    model: str | None
    base_url: str | None
    api_key: str | None
    out_dir: Path
    ci: CiContext
    limit: int | None
    max_tokens: int
    temperature: float
    seed: int
    prompt_lengths: tuple[int, ...]
    gen_tokens: int
    repeats: int
    ttft_requests: int
    tool_cases: Path | None
    tool_answers: Path | None
    code_dataset: str | None
    code_samples: int
    code_timeout: float | None
    thresholds: Path | None
    baseline: Path | None
    report_dir: Path | None

    def __repr__(self) -> str:  # keep the API key out of every repr and traceback
        return f"Settings(model={self.model!r}, base_url={self.base_url!r}, out_dir={str(self.out_dir)!r})"

    @classmethod
    def from_config(cls, config: pytest.Config) -> Settings:
        raw = _RawOptions(config)
        base_url = raw.text("--mlx-base-url")
        model = raw.text("--mlx-model")
        if model is not None:
            model = check_model_reference(raw.path_text("--mlx-model"))
        settings = cls(
            model=model,
            base_url=_check_base_url(base_url) if base_url else None,
            api_key=raw.text("--mlx-api-key") or os.environ.get(API_KEY_ENV) or None,
            out_dir=raw.path("--bench-out"),
            ci=detect_ci(os.environ, raw.text("--bench-trigger")),
            limit=raw.integer("--bench-limit", minimum=1),
            max_tokens=raw.integer("--max-tokens", minimum=1),
            temperature=raw.number("--temperature", minimum=0.0),
            seed=raw.integer("--seed", minimum=0),
            prompt_lengths=raw.integer_list("--bench-prompt-lengths"),
            gen_tokens=raw.integer("--bench-gen-tokens", minimum=2),
            repeats=raw.integer("--bench-repeats", minimum=1),
            ttft_requests=raw.integer("--ttft-requests", minimum=1),
            tool_cases=raw.existing_file("--tool-cases"),
            tool_answers=raw.existing_file("--tool-answers"),
            code_dataset=_code_dataset(raw),
            code_samples=raw.integer("--code-samples", minimum=1),
            code_timeout=raw.number("--code-timeout", minimum=0.001),
            thresholds=raw.existing_file("--bench-thresholds"),
            baseline=raw.existing_path("--bench-baseline"),
            report_dir=raw.path("--bench-report"),
        )
        settings.check_consistency()
        return settings

    def check_consistency(self) -> None:
        if self.tool_answers and not self.tool_cases:
            raise BenchInputError("--tool-answers needs --tool-cases: give the question file it belongs to")
        if self.code_samples > 1 and self.temperature <= 0:
            raise BenchInputError(
                f"--code-samples {self.code_samples} needs --temperature above 0 "
                "(greedy decoding would draw the same sample every time)"
            )

    def gen_kwargs(self) -> dict:
        """Generation parameters in the envelope's ``gen_kwargs`` vocabulary."""
        return {"max_gen_toks": self.max_tokens, "temperature": self.temperature}


class _RawOptions:
    """Reads one option from the command line, else from the ini file, else its default."""

    def __init__(self, config: pytest.Config):
        self._config = config
        self._by_flag = {option.flag: option for option in OPTIONS}

    def _lookup(self, flag: str) -> tuple[str | None, Path]:
        option = self._by_flag[flag]
        value = self._config.getoption(option.dest)
        if value is not None:
            return str(value), Path.cwd()
        value = self._config.getini(option.ini_name)
        if value not in (None, "", []):
            return str(value), self._config.rootpath
        return option.default, Path.cwd()

    def text(self, flag: str) -> str | None:
        value, _ = self._lookup(flag)
        return value.strip() if value is not None and value.strip() else None

    def path_text(self, flag: str) -> str | None:
        """A path-like value made absolute when it names something that exists relative to its origin."""
        value, origin = self._lookup(flag)
        if value is None:
            return None
        candidate = (origin / Path(value).expanduser())
        return str(candidate) if candidate.exists() else value

    def path(self, flag: str) -> Path | None:
        value, origin = self._lookup(flag)
        return (origin / Path(value).expanduser()).resolve() if value else None

    def existing_path(self, flag: str) -> Path | None:
        path = self.path(flag)
        if path is not None and not path.exists():
            raise BenchInputError(f"{flag} {path} does not exist: give an existing path")
        return path

    def existing_file(self, flag: str) -> Path | None:
        path = self.existing_path(flag)
        if path is not None and not path.is_file():
            raise BenchInputError(f"{flag} {path} is not a file: give the path of a file")
        return path

    def integer(self, flag: str, minimum: int) -> int | None:
        value = self.text(flag)
        if value is None:
            return None
        try:
            number = int(value)
        except ValueError:
            raise BenchInputError(f"{flag} {value!r} is not a whole number: give e.g. {flag} {minimum}") from None
        if number < minimum:
            raise BenchInputError(f"{flag} {number} is too small: give at least {minimum}")
        return number

    def number(self, flag: str, minimum: float) -> float | None:
        value = self.text(flag)
        if value is None:
            return None
        try:
            number = float(value)
        except ValueError:
            raise BenchInputError(f"{flag} {value!r} is not a number: give e.g. {flag} 0.7") from None
        if not math.isfinite(number) or number < minimum:
            raise BenchInputError(f"{flag} {value} is out of range: give a number of at least {minimum}")
        return number

    def integer_list(self, flag: str) -> tuple[int, ...]:
        value = self.text(flag) or ""
        try:
            numbers = tuple(int(part) for part in value.replace(" ", "").split(",") if part)
        except ValueError:
            raise BenchInputError(f"{flag} {value!r} is not a comma-separated list of whole numbers: "
                                  f"give e.g. {flag} 128,512") from None
        if not numbers or min(numbers) < 1:
            raise BenchInputError(f"{flag} {value!r} needs one or more positive whole numbers, e.g. 128,512")
        return numbers


def _check_base_url(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise BenchInputError(
            f"--mlx-base-url {url!r} is not an http(s) URL: give e.g. http://127.0.0.1:8080/v1"
        )
    return url.rstrip("/")


def _code_dataset(raw: _RawOptions) -> str | None:
    value = raw.text("--code-dataset")
    if value is None or value == "humaneval":
        return value
    path = raw.path("--code-dataset")
    if not path.is_file():
        raise BenchInputError(
            f"--code-dataset {value!r} is neither 'humaneval' nor an existing file: "
            "give 'humaneval' or the path of a HumanEval-format JSON-lines file"
        )
    return str(path)
