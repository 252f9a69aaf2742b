"""Berkeley Function Calling Leaderboard (BFCL) data: loading, OpenAI tool conversion, reply decoding.

The three steps mirror what BFCL does for an OpenAI-compatible model in function-calling (FC) mode:

* ``load_cases`` reads a question file and its possible-answer file (JSON lines, BFCL v3/v4 format).
* ``to_openai_tools`` turns BFCL function docs into ``tools=[...]`` the way BFCL's ``convert_to_tool``
  does for OpenAI: BFCL type names become JSON-schema ones (``dict``->``object``, ``float``->``number``
  with ``format: float`` and a note in the description, ``tuple``->``array``, ``any``->``string``, ...),
  each description gets BFCL's Python-language hint, and names OpenAI rejects are rewritten
  (BFCL replaces ``.`` with ``_``; we also fix any other invalid character, the 64-character limit and
  collisions, and keep the mapping so replies can be decoded back).
* ``parse_tool_calls`` decodes a chat completion message into BFCL's form
  ``[{original_function_name: {argument: value}}]``.

Text fallback (opt-in): BFCL's FC mode only reads ``message.tool_calls``; text in ``content`` is never
a call. Some local servers leave a Hermes/Qwen-style ``<tool_call>{"name": ..., "arguments": {...}}
</tool_call>`` block in ``content`` when their template parser misses it. ``parse_tool_calls(...,
text_fallback=True)`` reads such blocks when ``tool_calls`` is empty. It is off by default because
turning it on makes scores differ from BFCL's FC numbers.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from pytest_mlxbench.errors import BenchInputError

# Categories whose checking rules we implement (BFCL's Python AST categories, v3 and v4 names).
SUPPORTED_CATEGORIES = (
    "simple",
    "simple_python",
    "multiple",
    "parallel",
    "parallel_multiple",
    "irrelevance",
    "live_simple",
    "live_multiple",
    "live_parallel",
    "live_parallel_multiple",
    "live_irrelevance",
)

# BFCL's GORILLA_TO_OPENAPI mapping (Python subset plus the aliases its data uses).
BFCL_TO_JSON_SCHEMA_TYPE = {
    "integer": "integer",
    "number": "number",
    "float": "number",
    "string": "string",
    "boolean": "boolean",
    "bool": "boolean",
    "array": "array",
    "list": "array",
    "dict": "object",
    "object": "object",
    "tuple": "array",
    "any": "string",
}

PYTHON_LANGUAGE_HINT = " Note that the provided function is in Python 3 syntax."
FLOAT_HINT = " This is a float type value."

_OPENAI_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_OPENAI_NAME_MAX = 64
_TOOL_CALL_BLOCK = re.compile(r"<tool_call>(.*?)</tool_call>", re.DOTALL)


class ToolCallParseError(ValueError):
    """A reply's tool call cannot be decoded (bad JSON arguments, missing name, ...)."""


@dataclass(frozen=True)
class ToolCase:
    """One BFCL test case: the first-turn messages, the function docs and what counts as right."""

    id: str
    category: str
    messages: list[dict]
    functions: list[dict]
    possible_answer: list[dict] | None  # [{func: {param: [allowed values]}}]; None for irrelevance


def is_irrelevance_category(category: str) -> bool:
    return "irrelevance" in category


def category_of(case_id: str) -> str:
    """BFCL's rule: everything before the last ``_`` (``parallel_multiple_7`` -> ``parallel_multiple``)."""
    return case_id.rsplit("_", 1)[0]


# ---------------------------------------------------------------- loading


def load_cases(questions: Path, answers: Path | None) -> list[ToolCase]:
    """Read a BFCL question file and its possible-answer file (None allowed for irrelevance only)."""
    questions = Path(questions)
    entries = _read_json_lines(questions, "question")
    ground_truth = _load_ground_truth(Path(answers)) if answers is not None else None
    seen: set[str] = set()
    cases = []
    for line_no, entry in entries:
        case = _case_from_entry(entry, f"{questions}:{line_no}", ground_truth, answers)
        if case.id in seen:
            raise BenchInputError(f"{questions}:{line_no}: duplicate case id {case.id!r}; ids must be unique.")
        seen.add(case.id)
        cases.append(case)
    return cases


def _read_json_lines(path: Path, what: str) -> list[tuple[int, Any]]:
    if not path.is_file():
        raise BenchInputError(f"BFCL {what} file not found: {path}; pass an existing JSON-lines file.")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BenchInputError(f"cannot read BFCL {what} file {path}: {exc}; pass a UTF-8 JSON-lines file.") from None
    entries = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entries.append((line_no, json.loads(line)))
        except json.JSONDecodeError as exc:
            raise BenchInputError(
                f"{path}:{line_no}: not valid JSON ({exc.msg} at column {exc.colno}); "
                f"each line must be one JSON object."
            ) from None
    if not entries:
        raise BenchInputError(f"BFCL {what} file {path} holds no cases; pass a non-empty JSON-lines file.")
    return entries


def _load_ground_truth(path: Path) -> dict[str, list[dict]]:
    answers = {}
    for line_no, entry in _read_json_lines(path, "possible-answer"):
        where = f"{path}:{line_no}"
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            raise BenchInputError(f"{where}: an answer line needs a string 'id'; see the BFCL answer format.")
        answers[entry["id"]] = _validated_ground_truth(entry.get("ground_truth"), where)
    return answers


def _validated_ground_truth(ground_truth: Any, where: str) -> list[dict]:
    hint = "expected 'ground_truth': [{function_name: {parameter: [allowed values]}}]"
    if not isinstance(ground_truth, list) or not ground_truth:
        raise BenchInputError(f"{where}: {hint}.")
    for call in ground_truth:
        if not (isinstance(call, dict) and len(call) == 1):
            raise BenchInputError(f"{where}: each expected call must be one {{name: params}} pair; {hint}.")
        params = next(iter(call.values()))
        if not isinstance(params, dict) or not all(isinstance(v, list) for v in params.values()):
            raise BenchInputError(f"{where}: allowed values must be lists; {hint}.")
    return ground_truth


def _case_from_entry(
    entry: Any, where: str, ground_truth: dict[str, list[dict]] | None, answers: Path | None
) -> ToolCase:
    if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
        raise BenchInputError(f"{where}: a question line needs a string 'id'; see the BFCL question format.")
    case_id = entry["id"]
    category = category_of(case_id)
    if category not in SUPPORTED_CATEGORIES:
        raise BenchInputError(
            f"{where}: case {case_id!r} has category {category!r}, which is not supported; "
            f"use ids starting with one of {', '.join(SUPPORTED_CATEGORIES)}."
        )
    messages = _first_turn(entry.get("question"), where)
    functions = _validated_functions(entry.get("function"), where)
    possible_answer = None
    if not is_irrelevance_category(category):
        possible_answer = _answer_for(case_id, ground_truth, answers, where)
        _check_answer_names(possible_answer, functions, where)
    return ToolCase(case_id, category, messages, functions, possible_answer)


def _first_turn(question: Any, where: str) -> list[dict]:
    if not (isinstance(question, list) and question and isinstance(question[0], list) and question[0]):
        raise BenchInputError(f"{where}: 'question' must be a list of turns, each a non-empty list of messages.")
    messages = question[0]
    for message in messages:
        if not (isinstance(message, dict) and isinstance(message.get("role"), str)
                and isinstance(message.get("content"), str)):
            raise BenchInputError(f"{where}: each message needs string 'role' and 'content'.")
    return messages


def _validated_functions(functions: Any, where: str) -> list[dict]:
    if not isinstance(functions, list) or not functions:
        raise BenchInputError(f"{where}: 'function' must be a non-empty list of function docs.")
    for function in functions:
        if not (isinstance(function, dict) and isinstance(function.get("name"), str) and function["name"]):
            raise BenchInputError(f"{where}: every function doc needs a non-empty string 'name'.")
        parameters = function.get("parameters")
        if not (isinstance(parameters, dict) and isinstance(parameters.get("properties"), dict)):
            raise BenchInputError(f"{where}: function {function['name']!r} needs 'parameters' with 'properties'.")
        for name, schema in parameters["properties"].items():
            _check_param_type(schema, f"{where}: parameter {name!r} of {function['name']!r}")
    return functions


def _check_param_type(schema: Any, what: str) -> None:
    if not isinstance(schema, dict) or ("type" in schema and json_type(schema) is None):
        raise BenchInputError(
            f"{what} has an unsupported type; use one of {', '.join(BFCL_TO_JSON_SCHEMA_TYPE)}."
        )


def _answer_for(
    case_id: str, ground_truth: dict[str, list[dict]] | None, answers: Path | None, where: str
) -> list[dict]:
    if ground_truth is None:
        raise BenchInputError(
            f"{where}: case {case_id!r} needs a possible-answer file (give it with --tool-answers);"
            " only irrelevance cases can go without one."
        )
    if case_id not in ground_truth:
        raise BenchInputError(f"{where}: case {case_id!r} has no entry in the possible-answer file {answers}.")
    return ground_truth[case_id]


def _check_answer_names(possible_answer: list[dict], functions: list[dict], where: str) -> None:
    declared = {function["name"] for function in functions}
    for call in possible_answer:
        name = next(iter(call))
        if name not in declared:
            raise BenchInputError(f"{where}: the answer calls {name!r}, which the case's functions do not declare.")


# ---------------------------------------------------------------- OpenAI tools


def openai_tool_names(functions: Sequence[Mapping]) -> dict[str, str]:
    """Original function name -> the name sent to an OpenAI-compatible server (unique, ^[a-zA-Z0-9_-]{1,64}$)."""
    originals = [function["name"] for function in functions]
    taken = {name for name in originals if _OPENAI_NAME.fullmatch(name)}
    mapping = {}
    for name in originals:
        if name in mapping:
            continue
        if _OPENAI_NAME.fullmatch(name):
            mapping[name] = name
            continue
        mapping[name] = _unique(_sanitised(name), taken)
        taken.add(mapping[name])
    return mapping


def _sanitised(name: str) -> str:
    # BFCL's own rewrite is "." -> "_"; other invalid characters get the same treatment.
    return (re.sub(r"[^a-zA-Z0-9_-]", "_", name) or "_")[:_OPENAI_NAME_MAX]


def _unique(candidate: str, taken: set[str]) -> str:
    if candidate not in taken:
        return candidate
    for counter in range(2, len(taken) + 3):
        suffix = f"_{counter}"
        renamed = candidate[: _OPENAI_NAME_MAX - len(suffix)] + suffix
        if renamed not in taken:
            return renamed
    raise AssertionError("unreachable: a free suffix always exists")


def to_openai_tools(functions: Sequence[Mapping], *, language_hint: bool = True) -> list[dict]:
    """BFCL function docs -> OpenAI ``tools`` (BFCL's conversion for OpenAI-style FC models)."""
    names = openai_tool_names(functions)
    return [_to_openai_tool(function, names[function["name"]], language_hint) for function in functions]


def _to_openai_tool(function: Mapping, name: str, language_hint: bool) -> dict:
    converted = copy.deepcopy(dict(function))
    converted["name"] = name
    if language_hint:
        converted["description"] = converted.get("description", "") + PYTHON_LANGUAGE_HINT
    parameters = converted.setdefault("parameters", {})
    parameters["type"] = "object"
    parameters["properties"] = _converted_properties(parameters.get("properties", {}))
    return {"type": "function", "function": converted}


def _converted_properties(properties: dict) -> dict:
    return {name: _converted_property(schema) for name, schema in properties.items()}


def _converted_property(schema: dict) -> dict:
    bfcl_type = schema.get("type")
    if bfcl_type == "float":
        schema["format"] = "float"
        schema["description"] = schema.get("description", "") + FLOAT_HINT
    schema["type"] = json_type(schema) or "string"
    _convert_children(schema)
    return schema


def _converted_items(schema: dict) -> dict:
    # BFCL maps an items' type without the float annotation that properties get.
    if "type" in schema:
        schema["type"] = json_type(schema) or "string"
    _convert_children(schema)
    return schema


def _convert_children(schema: dict) -> None:
    if schema.get("type") not in ("array", "object"):
        return
    if isinstance(schema.get("properties"), dict):
        schema["properties"] = _converted_properties(schema["properties"])
    elif isinstance(schema.get("items"), dict):
        schema["items"] = _converted_items(schema["items"])


# ---------------------------------------------------------------- replies


def parse_tool_calls(message: Any, functions: Sequence[Mapping], *, text_fallback: bool = False) -> list[dict]:
    """A chat completion message (``openai`` object or dict) -> ``[{original_name: {arg: value}}]``.

    ``functions`` are the case's BFCL docs, used to map sent names back to the original ones (a name
    that is not a sent name is kept as is). No tool calls -> ``[]``. Raises ToolCallParseError when a
    call cannot be decoded.
    """
    original_of = {sent: original for original, sent in openai_tool_names(functions).items()}
    tool_calls = _field(message, "tool_calls") or []
    if not isinstance(tool_calls, (list, tuple)):
        raise ToolCallParseError(f"tool_calls is {type(tool_calls).__name__}, not a list")
    raw_calls = [_name_and_arguments(call) for call in tool_calls]
    if not raw_calls and text_fallback:
        raw_calls = _calls_in_text(_field(message, "content"))
    return [{original_of.get(name, name): _arguments_object(arguments, name)} for name, arguments in raw_calls]


def _field(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


def _name_and_arguments(call: Any) -> tuple[str, Any]:
    function = _field(call, "function")
    name = _field(function, "name") if function is not None else None
    if not isinstance(name, str) or not name:
        raise ToolCallParseError("a tool call has no function name")
    return name, _field(function, "arguments")


def _arguments_object(arguments: Any, name: str) -> dict:
    if isinstance(arguments, Mapping):
        return dict(arguments)
    if not isinstance(arguments, str):
        raise ToolCallParseError(f"arguments of {name!r} are not a JSON string: {type(arguments).__name__}")
    try:
        decoded = json.loads(arguments)
    except json.JSONDecodeError as exc:
        raise ToolCallParseError(f"arguments of {name!r} are not valid JSON ({exc.msg})") from None
    if not isinstance(decoded, dict):
        raise ToolCallParseError(f"arguments of {name!r} are JSON {type(decoded).__name__}, not an object")
    return decoded


def _calls_in_text(content: Any) -> list[tuple[str, Any]]:
    if not isinstance(content, str):
        return []
    return [_call_in_block(block) for block in _TOOL_CALL_BLOCK.findall(content)]


def _call_in_block(block: str) -> tuple[str, Any]:
    try:
        decoded = json.loads(block)
    except json.JSONDecodeError as exc:
        raise ToolCallParseError(f"a <tool_call> block is not valid JSON ({exc.msg})") from None
    if not isinstance(decoded, dict) or not isinstance(decoded.get("name"), str) or not decoded["name"]:
        raise ToolCallParseError("a <tool_call> block needs a JSON object with a string 'name'")
    return decoded["name"], decoded.get("arguments", {})


def json_type(schema: Mapping) -> str | None:
    """The JSON-schema type of a BFCL schema; None when missing or not a type BFCL knows."""
    bfcl_type = schema.get("type")
    return BFCL_TO_JSON_SCHEMA_TYPE.get(bfcl_type) if isinstance(bfcl_type, str) else None
