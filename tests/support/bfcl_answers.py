"""The reference reply of a BFCL case: the first allowed value of every parameter (tests only)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pytest_mlxbench.suites.tool_calling.bfcl import ToolCase, json_type


def first_answer_calls(case: ToolCase) -> list[dict]:
    """The reply that picks the first allowed value of every parameter, in the answer's order.

    Parameters whose only allowed value is "" (optional) or that the function does not declare (a few
    BFCL answers list those, always as optional) are left out. Dict answers are {key: [allowed values]}
    one level deep, as BFCL compares them, so their first values are picked too. Used to prove data
    and checker agree; also a reference reply.
    """
    if case.possible_answer is None:
        return []
    docs = {function["name"]: function for function in case.functions}
    return [
        {name: _first_arguments(params, docs[name]["parameters"]["properties"])}
        for call in case.possible_answer
        for name, params in call.items()
    ]


def _first_arguments(params: Mapping[str, list], declared: Mapping[str, Mapping]) -> dict:
    chosen = {}
    for param, allowed in params.items():
        value = _first_allowed(allowed)
        if param in declared and value is not _NOTHING:
            chosen[param] = _first_nested(value, declared[param])
    return chosen


def _first_nested(value: Any, schema: Mapping) -> Any:
    if json_type(schema) == "object" and isinstance(value, dict):
        return _first_of_each_key(value)
    items = schema.get("items")
    if (json_type(schema) == "array" and isinstance(items, Mapping) and json_type(items) == "object"
            and isinstance(value, list)):
        return [_first_of_each_key(item) if isinstance(item, dict) else item for item in value]
    return value


def _first_of_each_key(answer: Mapping[str, list]) -> dict:
    picked = {key: _first_allowed(allowed) for key, allowed in answer.items()}
    return {key: value for key, value in picked.items() if value is not _NOTHING}


_NOTHING = object()


def _first_allowed(allowed: list) -> Any:
    return next((value for value in allowed if value != ""), _NOTHING)
