"""Several models in one run (``--mlx-model A --mlx-model B``).

Every test that uses a model fixture is parametrized by the model through the session-scoped
fixture ``mlxbench_model`` (indirect), with ids ``model-<label>`` first, so ``-k model-A`` and
``--lf`` work per model. pytest groups the items by that session parameter: all of model A's
items run, then all of B's. When the next item belongs to another model, A's fixtures (its
managed server, its in-process model) are torn down at the end of A's last item, before B's
first item loads B: two models never share memory, and each item's memory window holds only
its own model. A run of one model is not parametrized (its ids stay as they were).
"""

from __future__ import annotations

import pytest

MODEL_FIXTURE = "mlxbench_model"
ID_PREFIX = "model-"


def parametrize_by_model(metafunc: pytest.Metafunc, models: tuple) -> None:
    if len(models) > 1 and MODEL_FIXTURE in metafunc.fixturenames:
        metafunc.parametrize(MODEL_FIXTURE, models, ids=[f"{ID_PREFIX}{spec.label}" for spec in models],
                             indirect=True, scope="session")


def model_param(item: pytest.Item):
    """The ModelSpec an item is parametrized with, or None (one model, or no model fixture)."""
    callspec = getattr(item, "callspec", None)
    return callspec.params.get(MODEL_FIXTURE) if callspec is not None else None


def group_by_model(items: list[pytest.Item]) -> list[pytest.Item]:
    """All of one model's items together, models in the order they first appear (items without a
    model stay with the first group, in their order). pytest's own grouping by session parameter
    is best-effort across files, and a model set up twice (A, B, A again) would load twice."""
    order: dict = {}
    for item in items:
        spec = model_param(item)
        if spec is not None:
            order.setdefault(spec, len(order))
    if len(order) < 2:
        return items  # one model (or none): nothing to group
    return sorted(items, key=lambda item: order.get(model_param(item), 0))


def case_id(nodeid: str, label: str | None) -> str:
    """The node id without its directories (they follow the rootdir, which differs between
    checkouts) and without its model part: the same case of every model and run has the same id."""
    path, separator, rest = nodeid.partition("::")
    nodeid = path.rsplit("/", 1)[-1] + separator + rest
    if label is None or "[" not in nodeid:
        return nodeid
    head, _, params = nodeid.partition("[")
    token = f"{ID_PREFIX}{label}"
    ids = params.removesuffix("]")
    if ids == token:
        return head
    if ids.startswith(f"{token}-"):
        return f"{head}[{ids[len(token) + 1:]}]"
    if ids.endswith(f"-{token}"):
        return f"{head}[{ids[:-len(token) - 1]}]"
    return nodeid


def release_model_before_the_next(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """At the end of a model's last item, tear down its fixtures (server, in-process model) now,
    rather than when the next model's first item sets up (pytest's default)."""
    spec = model_param(item)
    if spec is None or (nextitem is not None and model_param(nextitem) == spec):
        return
    fixturedefs = item._fixtureinfo.name2fixturedefs.get(MODEL_FIXTURE)  # noqa: SLF001 (no public way)
    if fixturedefs:
        fixturedefs[-1].finish(item._request)  # noqa: SLF001
