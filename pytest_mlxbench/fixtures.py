"""The fixtures suites use: the model in process, the server and its OpenAI clients, and the
recorders that carry measurements to the session through ``user_properties``."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Callable

import pytest

from .backends.endpoint import PLACEHOLDER_API_KEY, Endpoint, served_model
from .backends.gguf import is_gguf_file
from .backends.lineup import ModelSpec
from .backends.models import (
    ModelInfo,
    conversion_notes,
    describe_model,
    display_name,
    local_model_path,
)
from .backends.server import SERVED_MODEL, ServerError, managed_server
from .backends.watch import server_watch
from .envelope import check_result_row, plain_row
from .errors import BenchInputError
from .records import (
    GEN_KWARGS,
    IN_PROCESS,
    NOTE,
    RESULT,
    SAMPLE,
    SERVER,
    process_context,
)
from .session import BENCH_SESSION
from .settings import Settings, managed_server_args


def _settings(config: pytest.Config) -> Settings:
    return config.stash[BENCH_SESSION].settings


@pytest.fixture(scope="session")
def mlxbench_settings(pytestconfig) -> Settings:
    return _settings(pytestconfig)


@pytest.fixture(scope="session")
def mlxbench_model(pytestconfig, request) -> ModelSpec:
    """The model under test (``backends.lineup.ModelSpec``): with several --mlx-model, every test
    that uses a model is parametrized by it (ids ``model-<label>``); otherwise the one model."""
    return getattr(request, "param", None) or _settings(pytestconfig).models[0]


@pytest.fixture(scope="session")
def mlx_model_path(pytestconfig, mlxbench_model) -> Path:
    """Local directory of the model under test (fetched once for a Hugging Face id; the built-in
    tiny model when no --mlx-model is given)."""
    if not mlxbench_model.local:
        pytest.skip(f"{mlxbench_model.label} is a model served at {mlxbench_model.base_url or 'the server'}: "
                    "this test needs the model's files (give a local --mlx-model to run it)")
    return resolve_model_path(pytestconfig, mlxbench_model)


def resolve_model_path(config: pytest.Config, spec: ModelSpec, progress: Callable[[str], None] | None = None) -> Path:
    context = process_context(config)
    if spec.label not in context.model_paths:
        if spec.reference is None:
            from .backends.tinymodel import ensure_tiny_model

            context.model_paths[spec.label] = ensure_tiny_model()
        else:
            context.model_paths[spec.label] = local_model_path(spec.reference, progress)
            for note in conversion_notes(context.model_paths[spec.label]):
                context.note(note)
    return context.model_paths[spec.label]


def model_info(spec: ModelSpec, path: Path | None) -> ModelInfo:
    if spec.reference is None:
        from .backends.tinymodel import TINY_MODEL_NAME, TINY_MODEL_VERSION

        return ModelInfo(TINY_MODEL_NAME, path, f"v{TINY_MODEL_VERSION}", describe_model("", path).quantization)
    return describe_model(spec.name, path)


@pytest.fixture(scope="session")
def mlx_model(pytestconfig, mlx_model_path, mlxbench_model):
    """The model and tokenizer loaded in process through mlx-lm, once per session (per model when
    several are compared: released, MLX's cache cleared, before the next one loads)."""
    from .backends.mlx_backend import load_model, release_model, seed_everything

    settings, context = _settings(pytestconfig), process_context(pytestconfig)
    loaded = load_model(mlx_model_path)
    context.phase("model_loaded")
    seed_everything(settings.seed)
    context.set_model(mlxbench_model.label, IN_PROCESS, model_info(mlxbench_model, mlx_model_path),
                      loaded.load_seconds)
    yield loaded
    release_model(loaded)


@pytest.fixture(scope="session")
def mlx_server(pytestconfig, mlx_model_path, mlxbench_model):
    """An ``mlx_lm.server`` for the model on a free loopback port (across the ranks of --mlx-hosts
    when given), stopped at session end (or, when several models are compared, at the end of its
    model's tests). If it cannot start, each test that needs it errors with one line and the
    session summary says why (``backends.watch``)."""
    bench = pytestconfig.stash[BENCH_SESSION]
    context = process_context(pytestconfig)
    log_path = bench.settings.out_dir / "logs" / f"{bench.stamp}-{_process_name(pytestconfig)}{os.getpid()}-mlx_lm-server.log"
    started = time.perf_counter()
    try:
        server = managed_server(mlx_model_path, log_path, bench.settings, managed_server_args(bench.settings)).start()
    except ServerError as error:
        raise pytest.fail.Exception(server_watch(pytestconfig).start_failed(error), pytrace=False) from None
    context.server_started(server.memory_processes())
    server_watch(pytestconfig).server_started(server)
    context.set_model(mlxbench_model.label, SERVER, model_info(mlxbench_model, mlx_model_path),
                      time.perf_counter() - started)
    yield server
    context.server_stopping()
    server.stop()


def _process_name(config: pytest.Config) -> str:
    """``gw0-`` on a pytest-xdist worker, so each worker's server keeps its own log."""
    worker = getattr(config, "workerinput", {}).get("workerid")
    return f"{worker}-" if worker else ""


@pytest.fixture(scope="session")
def mlx_endpoint(pytestconfig, request, mlxbench_model) -> Endpoint:
    """The server the OpenAI clients talk to: the model's own URL (``NAME=URL``), else --mlx-base-url,
    else a managed mlx_lm.server."""
    settings, context, spec = _settings(pytestconfig), process_context(pytestconfig), mlxbench_model
    if not spec.base_url and not settings.base_urls:
        server = request.getfixturevalue("mlx_server")
        return Endpoint(server.base_url, model=SERVED_MODEL, server=server)
    base_url = spec.base_url or worker_base_url(pytestconfig, settings.base_urls)
    api_key = settings.api_key or PLACEHOLDER_API_KEY
    try:
        requested, note = served_model(base_url, api_key, spec.reference, strict=len(settings.models) > 1)
    except BenchInputError as error:
        pytest.fail(str(error), pytrace=False)
    if note:
        context.note(note)
    if len(settings.base_urls) > 1 and not spec.base_url:
        context.note(f"servers: {_process_name(pytestconfig) or 'this run '}used {base_url}")
    reference = spec.reference or requested  # mlx_lm.server lists its model by absolute path
    local = Path(reference) if Path(reference).is_dir() or is_gguf_file(Path(reference)) else None
    context.set_model(spec.label, SERVER, describe_model(display_name(reference), local))
    return Endpoint(base_url, api_key, requested)


def worker_base_url(config: pytest.Config, base_urls: tuple[str, ...]) -> str:
    """The server of this process: on pytest-xdist worker i, URL i mod n; otherwise the first."""
    worker = getattr(config, "workerinput", {}).get("workerid", "gw0")
    return base_urls[int(worker.removeprefix("gw") or 0) % len(base_urls)]


@pytest.fixture(scope="session")
def _mlxbench_clients(mlx_endpoint):
    client = mlx_endpoint.client()
    yield client
    client.close()


@pytest.fixture
def openai_client(mlx_endpoint, _mlxbench_clients):
    """``openai.OpenAI`` bound to the server in use (a test that needs a managed server that died
    errors in setup with one line: ``backends.watch``)."""
    return _mlxbench_clients


@pytest.fixture
def async_openai_client(mlx_endpoint):
    """``openai.AsyncOpenAI`` bound to the server in use (one per test: it belongs to the test's loop)."""
    return mlx_endpoint.async_client()


# --- recorders -----------------------------------------------------------------


@pytest.fixture
def record_metric(request) -> Callable[..., None]:
    """``record_metric(name, metric, value, unit, **fields)`` appends one result row to this test's
    suite; ``fields`` are the schema's optional result fields (tags become strings)."""

    def record(name: str, metric: str, value: float, unit: str, **fields) -> None:
        row = plain_row({"name": str(name), "metric": str(metric), "value": value, "unit": str(unit), **fields})
        check_result_row(row)
        request.node.user_properties.append((RESULT, _plain_data(row, "record_metric")))

    return record


@pytest.fixture
def record_sample(request) -> Callable[[dict], None]:
    """``record_sample(record)`` appends one line to the suite's JSON-lines sample log, which the
    suite module's ``bench_summarize(samples)`` turns into result rows at session end."""

    def record(sample: dict) -> None:
        request.node.user_properties.append((SAMPLE, _plain_data(sample, "record_sample")))

    return record


@pytest.fixture
def record_note(request) -> Callable[[str], None]:
    """``record_note(text)``: a warning for the envelope's ``errors`` (e.g. a clipped prompt length)."""

    def record(text: str) -> None:
        request.node.user_properties.append((NOTE, f"{request.node.nodeid}: {text}"))

    return record


@pytest.fixture
def record_gen_kwargs(request) -> Callable[..., None]:
    """``record_gen_kwargs(max_gen_toks=..., temperature=..., top_p=..., top_k=...)``: the generation
    parameters this test actually used, for the envelope's ``gen_kwargs``."""

    def record(**gen_kwargs) -> None:
        request.node.user_properties.append((GEN_KWARGS, dict(gen_kwargs)))

    return record


@pytest.fixture
def bench_gen_kwargs(mlxbench_settings, record_gen_kwargs) -> dict:
    """Keyword arguments for chat-completion requests from the options; requesting them records
    them as the suite's ``gen_kwargs``."""
    from .backends.chat import request_kwargs

    record_gen_kwargs(**mlxbench_settings.gen_kwargs())
    return request_kwargs(mlxbench_settings)


def _plain_data(value: dict, recorder: str) -> dict:
    """Only JSON data crosses to the session: live objects could not travel between processes."""
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as error:
        raise TypeError(f"{recorder}: {error}; record numbers, strings, lists and dicts only") from None
