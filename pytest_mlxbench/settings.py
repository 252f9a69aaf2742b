"""Command-line options and ini keys, parsed once into a frozen Settings object.

The core options are declared here; each suite domain declares its own in
``pytest_mlxbench/suites/<domain>/options.py`` (``OPTIONS``, and optional ``CHECKS`` run on the
parsed settings), found without any edit here, and so does a backend package
(``pytest_mlxbench/backends/<package>/options.py``, e.g. the distributed server's); an optional
``server_args(settings)`` there adds arguments to the managed ``mlx_lm.server``. Every option can
also be set as an ini key
(``[tool.pytest.ini_options]``); the command line wins. Bad values raise BenchInputError with one
line naming the option and the fix.
"""

from __future__ import annotations

import importlib
import math
import os
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import pytest

from .ci import TRIGGERS, CiContext, detect_ci
from .errors import BenchInputError

if TYPE_CHECKING:
    from .backends.lineup import ModelSpec

API_KEY_ENV = "MLXBENCH_API_KEY"
Parser = Callable[[str, Path], Any]  # (text, the directory relative paths start from) -> value


@dataclass(frozen=True)
class Option:
    """One option and its ini key. ``kind`` says how its text is read: text, int, number, file,
    path, existing_path or int_list (``minimum`` bounds numbers); ``parse`` reads anything else."""

    flag: str
    metavar: str
    help: str
    default: str | None = None
    kind: str = "text"
    minimum: float | None = None
    parse: Parser | None = None
    attribute: str | None = None  # the Settings attribute (default: the ini key)
    tiny_default: str | None = None  # the default on the built-in tiny model (a set-up check)
    multiple: bool = False  # repeatable; the ini key is a list (one per line); the value a tuple
    nargs: str | None = None  # values per flag of a repeatable option ("+": several)

    @property
    def name(self) -> str:
        return self.attribute or self.ini_name

    @property
    def ini_name(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    @property
    def dest(self) -> str:
        return "mlxbench_" + self.ini_name


CORE_OPTIONS = (
    Option("--mlx-model", "PATH_OR_ID", "mlx-lm model directory, .gguf file, Hugging Face id, NAME=URL of a served "
           "model, or a model id --mlx-base-url lists; repeat it to compare models (default: the built-in tiny model)",
           kind="model", multiple=True),
    Option("--mlx-base-url", "URL[,URL..]", "OpenAI-compatible server(s) to benchmark, e.g. "
           "http://127.0.0.1:8080/v1; with several, pytest-xdist worker i uses URL i mod n "
           "(default: start mlx_lm.server for the model)", kind="url_list"),
    Option("--mlx-api-key", "KEY", f"API key for --mlx-base-url (or env {API_KEY_ENV}); never written anywhere"),
    Option("--bench-out", "DIR", "directory for envelopes, sample logs and server logs", "bench-results", kind="path"),
    Option("--bench-trigger", "TRIGGER", "what triggered the run: " + ", ".join(TRIGGERS)
           + " (default: from the CI environment)"),
    Option("--bench-limit", "N", "run at most N cases per suite (on the built-in tiny model: 8)", kind="int",
           minimum=1, tiny_default="8"),
    Option("--bench-concurrency", "N", "accuracy suites: chat requests sent ahead, N at a time, in the order the "
           "items run (1: one at a time)", "4", kind="int", minimum=1),
    Option("--max-tokens", "N", "maximum tokens generated per request (on the built-in tiny model: 32)", "512",
           kind="int", minimum=1, tiny_default="32"),
    Option("--temperature", "T", "sampling temperature", "0.0", kind="number", minimum=0.0),
    Option("--seed", "N", "random seed for generation", "0", kind="int", minimum=0),
    Option("--bench-thresholds", "FILE", "TOML file of threshold rules (default: [tool.mlxbench] in pyproject.toml)",
           kind="file"),
    Option("--bench-baseline", "PATH", "envelope file or directory of earlier envelopes to compare against",
           kind="existing_path"),
    Option("--bench-report", "DIR", "write an HTML report with plots to this directory", kind="path"),
)
OPTION_PACKAGES = ("pytest_mlxbench.suites", "pytest_mlxbench.backends")  # each subpackage may hold options.py
TINY_MODEL_NOTE = ("the built-in tiny model (random weights) checks the set-up, its numbers mean nothing; so that "
                   "the check takes about a minute, options not given use short settings: {}. Give --mlx-model "
                   "for real numbers with the full settings")


@cache
def suite_option_modules() -> tuple:
    """The ``options`` module of every suite domain (and backend) package that has one."""
    modules = []
    for package_name in OPTION_PACKAGES:
        package = importlib.import_module(package_name)
        for info in pkgutil.iter_modules(package.__path__):
            name = f"{package_name}.{info.name}.options"
            if info.ispkg and importlib.util.find_spec(name) is not None:
                modules.append(importlib.import_module(name))
    return tuple(modules)


def all_options() -> tuple[Option, ...]:
    return CORE_OPTIONS + tuple(option for module in suite_option_modules() for option in module.OPTIONS)


def managed_server_args(settings) -> tuple[str, ...]:
    """Extra ``mlx_lm.server`` arguments asked for by suite options (``server_args(settings)`` in a
    domain's ``options.py``)."""
    return tuple(argument for module in suite_option_modules() if hasattr(module, "server_args")
                 for argument in module.server_args(settings))


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("mlxbench", "LLM benchmarks (pytest-mlxbench)")
    for option in all_options():
        default_note = f" [default: {option.default}]" if option.default else ""
        if option.multiple:
            group.addoption(option.flag, dest=option.dest, metavar=option.metavar, default=None, action="append",
                            nargs=option.nargs, help=option.help + default_note)
            parser.addini(option.ini_name, option.help, type="linelist", default=[])
        else:
            group.addoption(option.flag, dest=option.dest, metavar=option.metavar, default=None,
                            help=option.help + default_note)
            parser.addini(option.ini_name, option.help, default=None)


@dataclass(frozen=True)
class Settings:
    """The core options as fields; a suite's own options are read as attributes too
    (``settings.tool_cases``), from ``suite_values``."""

    model: str | None
    base_urls: tuple[str, ...]
    api_key: str | None
    out_dir: Path
    ci: CiContext
    limit: int | None
    max_tokens: int
    temperature: float
    seed: int
    thresholds: Path | None
    baseline: Path | None
    report_dir: Path | None
    suite_values: Mapping[str, Any] = field(default_factory=dict)
    tiny_settings: tuple[str, ...] = ()  # the short settings used on the built-in tiny model
    concurrency: int = 1  # --bench-concurrency
    models: tuple[ModelSpec, ...] = ()  # every --mlx-model (``model`` is the first one's reference)

    def __repr__(self) -> str:  # keep the API key out of every repr and traceback
        return f"Settings(model={self.model!r}, base_urls={self.base_urls!r}, out_dir={str(self.out_dir)!r})"

    @property
    def base_url(self) -> str | None:
        """The first --mlx-base-url (None: the plugin manages the server)."""
        return self.base_urls[0] if self.base_urls else None

    def __getattr__(self, name: str) -> Any:
        if name != "suite_values" and name in self.suite_values:
            return self.suite_values[name]
        raise AttributeError(f"Settings has no option {name!r}")

    @classmethod
    def from_config(cls, config: pytest.Config) -> Settings:
        from .backends.lineup import parse_models

        raw = _RawOptions(config)
        by_flag = {option.flag: option for option in CORE_OPTIONS}
        base_urls = raw.read(by_flag["--mlx-base-url"]) or ()
        models = parse_models(*raw.read_all(by_flag["--mlx-model"]), base_urls)
        raw.tiny = all(spec.is_tiny for spec in models) and not base_urls  # every model gets the same settings
        value = {option.ini_name: raw.read(option) for option in CORE_OPTIONS if option.kind != "model"}
        suite_values = {option.name: raw.read(option) for option in all_options()[len(CORE_OPTIONS):]}
        settings = cls(
            model=models[0].reference,
            base_urls=value["mlx_base_url"] or (),
            api_key=value["mlx_api_key"] or os.environ.get(API_KEY_ENV) or None,
            out_dir=value["bench_out"],
            ci=detect_ci(os.environ, value["bench_trigger"]),
            limit=value["bench_limit"],
            max_tokens=value["max_tokens"],
            temperature=value["temperature"],
            seed=value["seed"],
            thresholds=value["bench_thresholds"],
            baseline=value["bench_baseline"],
            report_dir=value["bench_report"],
            suite_values=MappingProxyType(suite_values),
            tiny_settings=tuple(raw.tiny_used),
            concurrency=value["bench_concurrency"],
            models=models,
        )
        for module in suite_option_modules():
            for check in getattr(module, "CHECKS", ()):
                check(settings)
        return settings

    @property
    def tiny_model_note(self) -> str | None:
        return TINY_MODEL_NOTE.format(", ".join(self.tiny_settings)) if self.tiny_settings else None

    def gen_kwargs(self) -> dict:
        """Generation parameters in the envelope's ``gen_kwargs`` vocabulary."""
        return {"max_gen_toks": self.max_tokens, "temperature": self.temperature}


class _RawOptions:
    """Reads one option from the command line, else from the ini file, else its default."""

    def __init__(self, config: pytest.Config):
        self._config = config
        self.tiny = False  # the run uses the built-in tiny model: options not given take tiny_default
        self.tiny_used: list[str] = []

    def read(self, option: Option) -> Any:
        if option.multiple:
            texts, origin = self.read_all(option)
            return tuple(self._parse(option, text, origin) for text in texts)
        text, origin = self._lookup(option)
        text = text.strip() if text is not None else None
        if not text:
            return None
        return self._parse(option, text, origin)

    @staticmethod
    def _parse(option: Option, text: str, origin: Path) -> Any:
        if option.parse is not None:
            return option.parse(text, origin)
        return _READERS[option.kind](option, text, origin)

    def read_all(self, option: Option) -> tuple[list[str], Path]:
        """The texts of a repeatable option (each flag may carry several), else of its ini list."""
        given = self._config.getoption(option.dest)
        if given:
            values = [value for group in given for value in (group if isinstance(group, list) else [group])]
            return [str(value).strip() for value in values if str(value).strip()], Path.cwd()
        listed = self._config.getini(option.ini_name) or []
        return [str(value).strip() for value in listed if str(value).strip()], self._config.rootpath

    def _lookup(self, option: Option) -> tuple[str | None, Path]:
        value = self._config.getoption(option.dest)
        if value is not None:
            return str(value), Path.cwd()
        value = self._config.getini(option.ini_name)
        if value not in (None, "", []):
            return str(value), self._config.rootpath
        if self.tiny and option.tiny_default is not None:
            if option.flag not in {used.split(" ")[0] for used in self.tiny_used}:
                self.tiny_used.append(f"{option.flag} {option.tiny_default}")
            return option.tiny_default, Path.cwd()
        return option.default, Path.cwd()


def read_path(option: Option, text: str, origin: Path) -> Path:
    return (origin / Path(text).expanduser()).resolve()


def read_existing_path(option: Option, text: str, origin: Path) -> Path:
    path = read_path(option, text, origin)
    if not path.exists():
        raise BenchInputError(f"{option.flag} {path} does not exist: give an existing path")
    return path


def read_file(option: Option, text: str, origin: Path) -> Path:
    path = read_existing_path(option, text, origin)
    if not path.is_file():
        raise BenchInputError(f"{option.flag} {path} is not a file: give the path of a file")
    return path


def read_int(option: Option, text: str, origin: Path) -> int:
    try:
        number = int(text)
    except ValueError:
        raise BenchInputError(f"{option.flag} {text!r} is not a whole number: "
                              f"give e.g. {option.flag} {option.default or int(option.minimum or 1)}") from None
    if option.minimum is not None and number < option.minimum:
        raise BenchInputError(f"{option.flag} {number} is too small: give at least {int(option.minimum)}")
    return number


def read_number(option: Option, text: str, origin: Path) -> float:
    try:
        number = float(text)
    except ValueError:
        raise BenchInputError(f"{option.flag} {text!r} is not a number: give e.g. {option.flag} 0.7") from None
    if not math.isfinite(number) or (option.minimum is not None and number < option.minimum):
        raise BenchInputError(f"{option.flag} {text} is out of range: give a number of at least {option.minimum}")
    return number


def read_int_list(option: Option, text: str, origin: Path) -> tuple[int, ...]:
    try:
        numbers = tuple(int(part) for part in text.replace(" ", "").split(",") if part)
    except ValueError:
        raise BenchInputError(f"{option.flag} {text!r} is not a comma-separated list of whole numbers: "
                              f"give e.g. {option.flag} 128,512") from None
    if not numbers or min(numbers) < (option.minimum or 1):
        raise BenchInputError(f"{option.flag} {text!r} needs one or more positive whole numbers, e.g. 128,512")
    return numbers


def read_url_list(option: Option, text: str, origin: Path) -> tuple[str, ...]:
    from .backends.endpoint import check_http_url

    return tuple(check_http_url(url.strip(), option.flag) for url in text.split(",") if url.strip())


_READERS: dict[str, Callable[[Option, str, Path], Any]] = {
    "text": lambda option, text, origin: text,
    "int": read_int,
    "number": read_number,
    "path": read_path,
    "existing_path": read_existing_path,
    "file": read_file,
    "int_list": read_int_list,
    "url_list": read_url_list,
}
