"""BFCL files: loading, conversion to OpenAI tools, decoding replies, and agreement of data and checker."""

import functools
import json
import re
from collections import Counter

import jsonschema
import pytest
from openai.types.chat import ChatCompletionMessage, ChatCompletionToolParam
from pydantic import TypeAdapter
from support.bfcl_answers import first_answer_calls
from support.contract import shared_dataset

from pytest_mlxbench.errors import BenchInputError
from pytest_mlxbench.suites.tool_calling.bfcl import (
    FLOAT_HINT,
    PYTHON_LANGUAGE_HINT,
    ToolCallParseError,
    category_of,
    load_cases,
    openai_tool_names,
    parse_tool_calls,
    to_openai_tools,
)
from pytest_mlxbench.suites.tool_calling.checker import check
from pytest_mlxbench.suites.tool_calling.run import SHIPPED_QUESTIONS

OWN_DIR = SHIPPED_QUESTIONS.parent
BFCL_FILES = {
    "simple_python": 400,
    "multiple": 200,
    "parallel": 200,
    "parallel_multiple": 200,
    "irrelevance": 240,
}
JSON_SCHEMA_TYPES = {"string", "integer", "number", "boolean", "array", "object"}
OPENAI_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
TOOL_PARAM = TypeAdapter(ChatCompletionToolParam)
# parallel_178's first answer allows either company, so BFCL's greedy matching (ours too) takes the
# wrong call first when the reply lists the calls in reverse order.
GREEDY_ORDER_SENSITIVE = {"parallel_178"}


def load_bfcl(category):
    answers = shared_dataset("bfcl") / "possible_answer" / f"BFCL_v4_{category}.json"
    return load_cases(shared_dataset("bfcl") / f"BFCL_v4_{category}.json", answers if answers.exists() else None)


def load_own():
    return load_cases(OWN_DIR / "questions.jsonl", OWN_DIR / "possible_answers.jsonl")


OWN = load_own()


@functools.cache
def bfcl_cases(category: str):
    """BFCL's own cases of a category (from ../shared: the test skips where it is absent)."""
    return load_bfcl(category)


def every_case():
    return [case for category in BFCL_FILES for case in bfcl_cases(category)] + OWN


# ---------------------------------------------------------------- loading


@pytest.mark.parametrize("category", BFCL_FILES)
def test_bfcl_files_load_with_their_category(category):
    cases = bfcl_cases(category)
    assert len(cases) == BFCL_FILES[category]
    assert {case.category for case in cases} == {category}
    assert all(case.messages and case.messages[-1]["role"] == "user" for case in cases)
    if category == "irrelevance":
        assert all(case.possible_answer is None for case in cases)
    else:
        assert all(case.possible_answer for case in cases)


@pytest.mark.parametrize("case_id, category", [
    ("simple_python_3", "simple_python"), ("parallel_multiple_7", "parallel_multiple"),
    ("irrelevance_0", "irrelevance"), ("simple_12", "simple"), ("live_simple_19-3-15", "live_simple"),
])
def test_category_comes_from_the_id_prefix(case_id, category):
    assert category_of(case_id) == category


def test_loaded_case_matches_its_lines():
    case = bfcl_cases("simple_python")[0]
    first_question = json.loads((shared_dataset("bfcl") / "BFCL_v4_simple_python.json").read_text().splitlines()[0])
    assert case.id == "simple_python_0"
    assert case.messages == first_question["question"][0]
    assert case.functions == first_question["function"]
    assert case.possible_answer == [{"calculate_triangle_area": {"base": [10], "height": [5], "unit": ["units", ""]}}]


# ---------------------------------------------------------------- malformed input


def write(tmp_path, name, lines):
    path = tmp_path / name
    path.write_text("\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n")
    return path


QUESTION = {"id": "simple_0", "question": [[{"role": "user", "content": "Weather in Oslo?"}]],
            "function": [{"name": "get_weather", "description": "d", "parameters": {
                "type": "dict", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]}
ANSWER = {"id": "simple_0", "ground_truth": [{"get_weather": {"city": ["Oslo"]}}]}


def load_error(questions, answers):
    with pytest.raises(BenchInputError) as error:
        load_cases(questions, answers)
    message = str(error.value)
    assert "\n" not in message and message
    return message


def test_well_formed_small_files_load(tmp_path):
    cases = load_cases(write(tmp_path, "q.jsonl", [QUESTION, ""]), write(tmp_path, "a.jsonl", [ANSWER]))
    assert [(case.id, case.category, case.possible_answer) for case in cases] == [
        ("simple_0", "simple", ANSWER["ground_truth"])]


def test_missing_question_file(tmp_path):
    assert "not found" in load_error(tmp_path / "nope.jsonl", None)


def test_missing_answer_file_is_named(tmp_path):
    message = load_error(write(tmp_path, "q.jsonl", [QUESTION]), tmp_path / "absent.jsonl")
    assert "absent.jsonl" in message and "not found" in message


def test_bad_json_line_names_file_and_line(tmp_path):
    questions = write(tmp_path, "q.jsonl", [QUESTION, '{"id": "simple_1", "question": [[{'])
    assert f"{questions}:2" in load_error(questions, write(tmp_path, "a.jsonl", [ANSWER]))


def test_bad_answer_line_names_file_and_line(tmp_path):
    answers = write(tmp_path, "a.jsonl", [ANSWER, {"id": "simple_1", "ground_truth": {"f": {}}}])
    assert f"{answers}:2" in load_error(write(tmp_path, "q.jsonl", [QUESTION]), answers)


def test_non_irrelevance_without_answer_file(tmp_path):
    assert "possible-answer file" in load_error(write(tmp_path, "q.jsonl", [QUESTION]), None)


def test_irrelevance_needs_no_answer_file(tmp_path):
    question = {**QUESTION, "id": "irrelevance_4"}
    [case] = load_cases(write(tmp_path, "q.jsonl", [question]), None)
    assert (case.category, case.possible_answer) == ("irrelevance", None)


def test_case_without_answer(tmp_path):
    questions = write(tmp_path, "q.jsonl", [QUESTION, {**QUESTION, "id": "simple_1"}])
    message = load_error(questions, write(tmp_path, "a.jsonl", [ANSWER]))
    assert "'simple_1'" in message and f"{questions}:2" in message


@pytest.mark.parametrize("broken, words", [
    ({**QUESTION, "id": "java_3"}, "not supported"),
    ({**QUESTION, "id": 3}, "'id'"),
    ({**QUESTION, "question": "Weather in Oslo?"}, "'question'"),
    ({**QUESTION, "function": []}, "'function'"),
    ({**QUESTION, "function": [{"name": "f", "parameters": {"properties": {"x": {"type": "str"}}}}]}, "type"),
])
def test_malformed_question_is_one_line(tmp_path, broken, words):
    questions = write(tmp_path, "q.jsonl", [broken])
    message = load_error(questions, write(tmp_path, "a.jsonl", [ANSWER]))
    assert words in message and f"{questions}:1" in message


def test_duplicate_ids(tmp_path):
    questions = write(tmp_path, "q.jsonl", [QUESTION, QUESTION])
    assert "duplicate" in load_error(questions, write(tmp_path, "a.jsonl", [ANSWER]))


def test_answer_naming_an_undeclared_function(tmp_path):
    answers = write(tmp_path, "a.jsonl", [{"id": "simple_0", "ground_truth": [{"get_time": {"zone": ["CET"]}}]}])
    assert "'get_time'" in load_error(write(tmp_path, "q.jsonl", [QUESTION]), answers)


def test_empty_file(tmp_path):
    assert "no cases" in load_error(write(tmp_path, "q.jsonl", [""]), None)


# ---------------------------------------------------------------- OpenAI tools


def schema_types(schema):
    yield schema.get("type")
    for child in (schema.get("properties") or {}).values():
        yield from schema_types(child)
    if isinstance(schema.get("items"), dict):
        yield from schema_types(schema["items"])


def test_every_case_converts_to_valid_openai_tools():
    for case in every_case():
        tools = to_openai_tools(case.functions)
        assert len(tools) == len(case.functions)
        for tool in tools:
            TOOL_PARAM.validate_python(tool)
            function = tool["function"]
            assert OPENAI_NAME.fullmatch(function["name"]), case.id
            jsonschema.Draft7Validator.check_schema(function["parameters"])
            assert function["parameters"]["type"] == "object"
            assert set(schema_types(function["parameters"])) <= JSON_SCHEMA_TYPES, case.id
        assert len({tool["function"]["name"] for tool in tools}) == len(tools)


def test_conversion_follows_bfcl_for_openai():
    functions = [{"name": "geo.distance", "description": "Distance.", "parameters": {"type": "dict", "properties": {
        "a": {"type": "tuple", "items": {"type": "float"}, "description": "Point."},
        "scale": {"type": "float", "description": "Scale."},
        "meta": {"type": "dict", "description": "Meta.", "properties": {
            "ratio": {"type": "float", "description": "Ratio."},
            "tags": {"type": "array", "items": {"type": "any"}, "description": "Tags."}}},
        "rows": {"type": "array", "description": "Rows.", "items": {"type": "dict", "properties": {
            "n": {"type": "integer", "description": "N."}}}},
        "anything": {"type": "any", "description": "Any value."},
        "untyped": {"description": "No type."},
    }, "required": ["a"]}}]
    original = json.loads(json.dumps(functions))
    [tool] = to_openai_tools(functions)
    function = tool["function"]
    properties = function["parameters"]["properties"]
    assert functions == original, "the BFCL docs must not be modified"
    assert function["name"] == "geo_distance"
    assert function["description"] == "Distance." + PYTHON_LANGUAGE_HINT
    assert properties["a"] == {"type": "array", "items": {"type": "number"}, "description": "Point."}
    assert properties["scale"] == {"type": "number", "format": "float", "description": "Scale." + FLOAT_HINT}
    assert properties["meta"]["type"] == "object"
    assert properties["meta"]["properties"]["ratio"]["type"] == "number"
    assert properties["meta"]["properties"]["tags"]["items"] == {"type": "string"}
    assert properties["rows"]["items"]["type"] == "object"
    assert properties["rows"]["items"]["properties"]["n"]["type"] == "integer"
    assert properties["anything"]["type"] == "string"
    assert properties["untyped"]["type"] == "string"
    assert function["parameters"]["required"] == ["a"]


def test_language_hint_can_be_left_out():
    [tool] = to_openai_tools([{"name": "f", "description": "D.", "parameters": {"type": "dict", "properties": {}}}],
                             language_hint=False)
    assert tool["function"]["description"] == "D."


def test_names_openai_rejects_get_unique_valid_names():
    names = ["a.b", "a_b", "a b", "x" * 70, "x" * 70 + ".y", "ok-name"]
    mapping = openai_tool_names([{"name": name} for name in names])
    assert mapping["a_b"] == "a_b" and mapping["ok-name"] == "ok-name"
    assert mapping["a.b"] not in ("a_b",) and mapping["a b"] not in ("a_b", mapping["a.b"])
    assert len(set(mapping.values())) == len(names)
    assert all(OPENAI_NAME.fullmatch(sent) for sent in mapping.values())


# ---------------------------------------------------------------- decoding replies


FUNCTIONS = [{"name": "math.hypot", "parameters": {"type": "dict", "properties": {}}},
             {"name": "math_hypot", "parameters": {"type": "dict", "properties": {}}},
             {"name": "get_time", "parameters": {"type": "dict", "properties": {}}}]


def reply(*calls, content=None):
    tool_calls = [{"id": f"c{i}", "type": "function", "function": {"name": name, "arguments": arguments}}
                  for i, (name, arguments) in enumerate(calls)]
    return {"role": "assistant", "content": content, "tool_calls": tool_calls or None}


def test_parse_maps_sent_names_back_to_originals():
    sent = openai_tool_names(FUNCTIONS)
    message = reply((sent["math.hypot"], '{"x": 3, "y": 4.5}'), (sent["math_hypot"], "{}"), ("get_time", '{"z": null}'))
    expected = [{"math.hypot": {"x": 3, "y": 4.5}}, {"math_hypot": {}}, {"get_time": {"z": None}}]
    assert parse_tool_calls(message, FUNCTIONS) == expected
    assert parse_tool_calls(ChatCompletionMessage.model_validate(message), FUNCTIONS) == expected


def test_parse_keeps_unknown_names():
    assert parse_tool_calls(reply(("launch_rocket", "{}")), FUNCTIONS) == [{"launch_rocket": {}}]


def test_parse_without_calls_is_empty_even_with_text():
    assert parse_tool_calls(reply(content="The answer is 5."), FUNCTIONS) == []
    assert parse_tool_calls(ChatCompletionMessage(role="assistant", content=None), FUNCTIONS) == []


@pytest.mark.parametrize("arguments", ['{"x": 3', "[3]", '"x"', "", "null", 5])
def test_parse_rejects_arguments_that_are_not_a_json_object(arguments):
    with pytest.raises(ToolCallParseError):
        parse_tool_calls(reply(("get_time", arguments)), FUNCTIONS)


@pytest.mark.parametrize("message", [
    {"tool_calls": [{"function": {"arguments": "{}"}}]},
    {"tool_calls": [{"function": {"name": "", "arguments": "{}"}}]},
    {"tool_calls": [{"type": "function"}]},
    {"tool_calls": "get_time()"},
    {"tool_calls": 5},
])
def test_parse_rejects_malformed_tool_calls(message):
    with pytest.raises(ToolCallParseError):
        parse_tool_calls(message, FUNCTIONS)


def test_text_fallback_reads_tool_call_blocks_only_when_asked():
    content = ('Sure. <tool_call>{"name": "math_hypot", "arguments": {"x": 1}}</tool_call>\n'
               '<tool_call>{"name": "get_time", "arguments": "{\\"z\\": 2}"}</tool_call>')
    assert parse_tool_calls(reply(content=content), FUNCTIONS) == []
    assert parse_tool_calls(reply(content=content), FUNCTIONS, text_fallback=True) == [
        {"math_hypot": {"x": 1}}, {"get_time": {"z": 2}}]


def test_text_fallback_never_overrides_real_tool_calls():
    message = reply(("get_time", "{}"), content='<tool_call>{"name": "math_hypot", "arguments": {}}</tool_call>')
    assert parse_tool_calls(message, FUNCTIONS, text_fallback=True) == [{"get_time": {}}]


@pytest.mark.parametrize("block", ['{"name": "get_time", "arguments": {', '["get_time"]', '{"arguments": {}}'])
def test_text_fallback_with_a_broken_block_is_a_parse_error(block):
    with pytest.raises(ToolCallParseError):
        parse_tool_calls(reply(content=f"<tool_call>{block}</tool_call>"), FUNCTIONS, text_fallback=True)


# ---------------------------------------------------------------- data and checker agree


def reference_reply(case):
    """The first allowed values, sent through JSON and the OpenAI names as a real reply would be."""
    sent = openai_tool_names(case.functions)
    calls = [(sent[name], json.dumps(arguments)) for call in first_answer_calls(case)
             for name, arguments in call.items()]
    return reply(*calls)


@pytest.mark.parametrize("source", [*BFCL_FILES, "own"])
def test_first_allowed_values_pass_the_checker(source):
    cases = OWN if source == "own" else bfcl_cases(source)
    failures = []
    for case in cases:
        if case.possible_answer is None:
            continue
        verdict = check(case, parse_tool_calls(reference_reply(case), case.functions))
        if not verdict.passed:
            failures.append(f"{case.id}: {verdict.detail}")
    assert failures == []


@pytest.mark.parametrize("source", ["parallel", "parallel_multiple", "own"])
def test_reference_calls_pass_in_reverse_order(source):
    cases = OWN if source == "own" else bfcl_cases(source)
    failures = [case.id for case in cases
                if case.possible_answer and not check(case, first_answer_calls(case)[::-1]).passed]
    assert set(failures) <= GREEDY_ORDER_SENSITIVE


def test_irrelevance_cases_pass_with_no_call_and_fail_with_one():
    for case in bfcl_cases("irrelevance") + [case for case in OWN if case.category == "irrelevance"]:
        assert check(case, []).passed
        name = case.functions[0]["name"]
        assert check(case, [{name: {}}]).kind == "unexpected_call"


# ---------------------------------------------------------------- our own case set


def test_own_set_covers_every_category_with_ten_or_more_cases():
    counts = Counter(case.category for case in OWN)
    assert set(counts) == {"simple", "multiple", "parallel", "parallel_multiple", "irrelevance"}
    assert min(counts.values()) >= 10 and sum(counts.values()) >= 60
    for category, count in counts.items():
        assert sorted(case.id for case in OWN if case.category == category) == sorted(
            f"{category}_{index}" for index in range(count))


def test_own_answer_file_has_no_irrelevance_entries():
    answer_ids = {json.loads(line)["id"] for line in (OWN_DIR / "possible_answers.jsonl").read_text().splitlines()}
    assert not any(case_id.startswith("irrelevance") for case_id in answer_ids)
    assert answer_ids == {case.id for case in OWN if case.possible_answer is not None}


def test_own_set_shapes_match_the_categories():
    for case in OWN:
        calls = len(case.possible_answer or [])
        if case.category == "simple":
            assert (len(case.functions), calls) == (1, 1), case.id
        elif case.category == "multiple":
            assert len(case.functions) >= 2 and calls == 1, case.id
        elif case.category == "parallel":
            assert len(case.functions) == 1 and calls >= 2, case.id
        elif case.category == "parallel_multiple":
            assert len(case.functions) >= 2 and calls >= 2, case.id
            assert len({next(iter(call)) for call in case.possible_answer}) >= 2, case.id


def test_own_set_uses_varied_parameter_types():
    types, enums, optional = Counter(), 0, 0
    for case in OWN:
        for function in case.functions:
            for schema in function["parameters"]["properties"].values():
                types[schema["type"]] += 1
                enums += "enum" in schema or "enum" in schema.get("items", {})
        for call in case.possible_answer or []:
            optional += sum("" in allowed for params in call.values() for allowed in params.values())
    assert {"integer", "float", "string", "boolean", "array", "dict", "tuple"} <= set(types)
    assert enums >= 10 and optional >= 10
