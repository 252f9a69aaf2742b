"""Tool-call checking with the rules of BFCL's AST checker, so scores compare with published ones.

Input is BFCL's decoded form ``[{function_name: {argument: value}}]`` (see ``pytest_mlxbench.suites.tool_calling.bfcl``).
Rules, as in BFCL's ``ast_checker.py`` (Python):

* simple: exactly one call; multiple: as many calls as expected (one) checked against the expected
  function; parallel / parallel_multiple: equal counts, each expected call matched greedily (in answer
  order) by the first not-yet-matched call that passes, whatever the reply's order;
* per call: same name; every required parameter present; no parameter the function does not declare
  or the answer does not list; the value's type is the parameter's type (exact Python type, an int is
  accepted for a float, list elements checked one level deep against the answer's element types);
  the value is one of the allowed values: strings compared after BFCL's normalisation (drop
  `` ,./-_*^``, lowercase, ``'`` -> ``"``), lists element-wise with strings normalised, dicts key by
  key with string values normalised, other values by Python ``==``; a parameter the answer does not
  mark optional (``""``) must be given;
* a value whose type differs from the parameter's but equals the answer's own type is compared as is
  (BFCL's "variable" rule).
* irrelevance: passes only when no call is made.

Our own decisions where BFCL has no single rule: a reply that cannot be decoded is ``parse_error``
and fails in every category (BFCL counts an undecodable reply as "no call" for irrelevance); zero
calls where calls were expected is ``no_call``; a parameter the answer needs but the schema does not
mark required is ``missing_required`` (BFCL's "missing_optional").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from pytest_mlxbench.suites.tool_calling.bfcl import (
    ToolCallParseError,
    is_irrelevance_category,
    parse_tool_calls,
)

FAILURE_KINDS = (
    "wrong_name",
    "missing_required",
    "unexpected_param",
    "wrong_type",
    "wrong_value",
    "wrong_count",
    "parse_error",
    "no_call",
    "unexpected_call",
)

# BFCL's PYTHON_TYPE_MAPPING, plus the JSON-schema spellings of the same types.
_PYTHON_TYPE = {
    "string": str,
    "integer": int,
    "float": float,
    "number": float,
    "boolean": bool,
    "bool": bool,
    "array": list,
    "list": list,
    "tuple": list,
    "dict": dict,
    "object": dict,
    "any": str,
}
_FLOAT_TYPES = ("float", "number")
_ELEMENT_CHECKED_TYPES = ("array", "list", "tuple")
_IGNORED_IN_STRINGS = re.compile(r"[ ,./\-_*^]")
_SHOWN_CHARS = 80


@dataclass(frozen=True)
class Verdict:
    passed: bool
    kind: str | None  # one of FAILURE_KINDS when failed, None when passed
    detail: str  # one human-readable line


def _fail(kind: str, detail: str) -> Verdict:
    return Verdict(False, kind, detail)


def _pass(detail: str) -> Verdict:
    return Verdict(True, None, detail)


def normalise_string(text: str) -> str:
    """BFCL's standardize_string: "April 1, 2024" and "april 1 2024" compare equal."""
    return _IGNORED_IN_STRINGS.sub("", text).lower().replace("'", '"')


# ---------------------------------------------------------------- entry points


def check(case: Any, calls: list[dict] | ToolCallParseError) -> Verdict:
    """Score decoded calls (or the parse error they raised) against a ToolCase-like object."""
    return check_calls(case.functions, case.possible_answer, case.category, calls)


def check_message(case: Any, message: Any, *, text_fallback: bool = False) -> Verdict:
    """Decode a chat completion message for ``case`` and score it; undecodable -> parse_error."""
    try:
        calls = parse_tool_calls(message, case.functions, text_fallback=text_fallback)
    except ToolCallParseError as exc:
        calls = exc
    return check(case, calls)


def check_calls(
    functions: Sequence[Mapping],
    possible_answer: Sequence[Mapping] | None,
    category: str,
    calls: list[dict] | ToolCallParseError,
) -> Verdict:
    if isinstance(calls, ToolCallParseError):
        return _fail("parse_error", f"reply could not be decoded: {calls}")
    if not _is_call_list(calls):
        return _fail("parse_error", "reply is not a list of {function_name: {argument: value}} calls")
    if is_irrelevance_category(category):
        return _check_irrelevance(calls)
    if possible_answer is None:
        raise ValueError(f"a {category!r} case needs possible answers")
    if not calls:
        return _fail("no_call", f"no tool call made; expected {_count(len(possible_answer))}")
    if "parallel" in category:
        return _check_parallel(functions, possible_answer, calls)
    if "multiple" in category:
        return _check_single(_doc_named(functions, _name_of(possible_answer[0])), possible_answer, calls)
    return _check_single(functions[0], possible_answer, calls)


def _is_call_list(calls: Any) -> bool:
    return isinstance(calls, list) and all(
        isinstance(call, dict) and len(call) == 1
        and isinstance(_name_of(call), str) and isinstance(_arguments_of(call), dict)
        for call in calls
    )


def _check_irrelevance(calls: list[dict]) -> Verdict:
    if calls:
        names = ", ".join(repr(_name_of(call)) for call in calls)
        return _fail("unexpected_call", f"{_count(len(calls))} made ({_shorten(names)}) where none was wanted")
    return _pass("no call made, as expected")


def _check_single(doc: Mapping, possible_answer: Sequence[Mapping], calls: list[dict]) -> Verdict:
    if len(calls) != len(possible_answer):
        return _fail("wrong_count", f"{_count(len(calls))} made; expected {_count(len(possible_answer))}")
    verdict = _check_call(doc, calls[0], possible_answer[0])
    return _pass("call matched") if verdict.passed else verdict


def _check_parallel(functions: Sequence[Mapping], possible_answer: Sequence[Mapping], calls: list[dict]) -> Verdict:
    if len(calls) != len(possible_answer):
        return _fail("wrong_count", f"{_count(len(calls))} made; expected {_count(len(possible_answer))}")
    matched: set[int] = set()
    for expected in possible_answer:
        doc = _doc_named(functions, _name_of(expected))
        failures = []
        for index in (i for i in range(len(calls)) if i not in matched):
            verdict = _check_call(doc, calls[index], expected)
            if verdict.passed:
                matched.add(index)
                break
            failures.append(verdict)
        else:
            return _no_match(_name_of(expected), failures)
    return _pass(f"all {_count(len(calls))} matched")


def _no_match(expected_name: str, failures: list[Verdict]) -> Verdict:
    # The most telling failure is one from a call to the right function.
    closest = next((v for v in failures if v.kind != "wrong_name"), failures[0])
    return _fail(closest.kind, f"no call matches the expected {expected_name!r} call: {closest.detail}")


# ---------------------------------------------------------------- one call


def _check_call(doc: Mapping, call: Mapping, expected: Mapping) -> Verdict:
    name, arguments = _name_of(call), _arguments_of(call)
    allowed_by_param = _arguments_of(expected)
    if name != doc["name"]:
        return _fail("wrong_name", f"called {_shorten(repr(name))}; expected {doc['name']!r}")
    parameters = doc.get("parameters", {})
    declared = parameters.get("properties", {})
    for param in parameters.get("required", []):
        if param not in arguments:
            return _fail("missing_required", f"{name!r} is missing required parameter {param!r}")
    for param, value in arguments.items():
        verdict = _check_argument(name, param, value, declared, allowed_by_param)
        if not verdict.passed:
            return verdict
    for param, allowed in allowed_by_param.items():
        if param not in arguments and "" not in allowed:
            return _fail("missing_required", f"{name!r} needs parameter {param!r} for this question")
    return _pass("call matched")


def _check_argument(
    name: str, param: str, value: Any, declared: Mapping, allowed_by_param: Mapping
) -> Verdict:
    if param not in declared:
        return _fail("unexpected_param", f"{name!r} does not declare parameter {_shorten(repr(param))}")
    if param not in allowed_by_param:
        return _fail("unexpected_param", f"parameter {param!r} of {name!r} should not be given here")
    return _check_value(param, value, declared[param], allowed_by_param[param])


def _check_value(param: str, value: Any, schema: Mapping, allowed: list) -> Verdict:
    type_name = schema.get("type", "string")
    if not isinstance(type_name, str):
        type_name = "string"
    expected_type = _PYTHON_TYPE.get(type_name, str)
    element_type = _element_type(schema) if type_name in _ELEMENT_CHECKED_TYPES else None
    if type_name in _FLOAT_TYPES and type(value) is int:
        value = float(value)
    type_ok, is_variable = _type_matches(value, allowed, expected_type, element_type)
    if not type_ok:
        return _fail("wrong_type", f"{param!r} must be {type_name}, got {_json_type(value)} {_show(value)}")
    if not is_variable and not _value_matches_typed(value, allowed, expected_type, element_type):
        return _fail("wrong_value", f"{param!r} = {_show(value)} is not one of {_show(allowed)}")
    if is_variable and value not in allowed:
        return _fail("wrong_value", f"{param!r} = {_show(value)} is not one of {_show(allowed)}")
    return _pass("value matched")


def _element_type(schema: Mapping) -> type | None:
    items = schema.get("items")
    if not isinstance(items, Mapping) or not isinstance(items.get("type"), str):
        return None
    return _PYTHON_TYPE.get(items["type"])


def _answer_type(allowed: Sequence) -> type | None:
    return next((type(value) for value in allowed if value != ""), None)


def _type_matches(value: Any, allowed: Sequence, expected: type, element_type: type | None) -> tuple[bool, bool]:
    """(type acceptable, value is a "variable"): BFCL's type_checker, element check one level deep."""
    answer_type = _answer_type(allowed)
    is_variable = answer_type is not None and answer_type is not expected
    if type(value) is expected:
        if element_type is None:
            return True, is_variable
        return any(_elements_match(value, answer, element_type) for answer in allowed), is_variable
    if answer_type is not None and type(value) is answer_type:
        return True, True
    return False, False


def _elements_match(value: list, answer: Any, element_type: type) -> bool:
    # BFCL only inspects answers that are lists; any other allowed value (such as "") lets it pass.
    if type(answer) is not list:
        return True
    return all(_type_matches(item, answer, element_type, None)[0] for item in value)


def _value_matches_typed(value: Any, allowed: list, expected: type, element_type: type | None) -> bool:
    if expected is dict:
        return _dict_matches_any(value, allowed)
    if expected is list and element_type is dict:
        return any(_dict_list_matches(value, answer) for answer in allowed)
    if expected is str:
        return normalise_string(value) in [normalise_string(a) for a in allowed if type(a) is str]
    if expected is list:
        return _normalised_list(value) in [_normalised_list(answer) for answer in allowed]
    return value in allowed


def _normalised(value: Any) -> Any:
    return normalise_string(value) if type(value) is str else value


def _normalised_list(values: Any) -> list | None:
    # Iterating "" (BFCL's optional marker) gives [], so an empty list matches an optional parameter.
    if not isinstance(values, (list, str)):
        return None
    return [_normalised(value) for value in values]


def _dict_matches_any(value: dict, allowed: list) -> bool:
    return any(_dict_matches(value, answer) for answer in allowed if answer != "")


def _dict_matches(value: Any, answer: Any) -> bool:
    if not isinstance(value, dict) or not isinstance(answer, dict):
        return False
    for key, item in value.items():
        if key not in answer or _normalised(item) not in (_normalised_list(answer[key]) or []):
            return False
    return all(key in value or _is_optional(allowed) for key, allowed in answer.items())


def _is_optional(allowed: Any) -> bool:
    return isinstance(allowed, (list, str)) and "" in allowed


def _dict_list_matches(value: list, answer: Any) -> bool:
    # Order matters: the i-th dict of the reply is compared with the i-th dict of the answer.
    if not isinstance(answer, (list, str)) or len(value) != len(answer):
        return False
    return all(_dict_matches(item, expected) for item, expected in zip(value, answer))


# ---------------------------------------------------------------- helpers


def _name_of(call: Mapping) -> Any:
    return next(iter(call))


def _arguments_of(call: Mapping) -> Any:
    return next(iter(call.values()))


def _doc_named(functions: Sequence[Mapping], name: str) -> Mapping:
    for doc in functions:
        if doc["name"] == name:
            return doc
    raise ValueError(f"the possible answer calls {name!r}, which the functions do not declare")


def _count(n: int) -> str:
    return f"{n} call" if n == 1 else f"{n} calls"


def _json_type(value: Any) -> str:
    names = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object"}
    return names.get(type(value), "null" if value is None else type(value).__name__)


def _show(value: Any) -> str:
    return _shorten(repr(value))


def _shorten(text: str) -> str:
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."
