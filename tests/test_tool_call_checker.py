"""The BFCL-faithful tool-call checker: every rule passes the right replies and names the right failure."""

import pytest
from openai.types.chat import ChatCompletionMessage

from pytest_mlxbench.suites.tool_calling.bfcl import ToolCallParseError, ToolCase
from pytest_mlxbench.suites.tool_calling.checker import (
    FAILURE_KINDS,
    Verdict,
    check,
    check_calls,
    check_message,
    normalise_string,
)


def doc(name, properties, required):
    return {"name": name, "description": "d",
            "parameters": {"type": "dict", "properties": properties, "required": required}}


HOTEL = doc("hotel.search", {
    "city": {"type": "string", "description": "City."},
    "nights": {"type": "integer", "description": "Nights."},
    "max_price": {"type": "float", "description": "Price per night."},
    "pets": {"type": "boolean", "description": "Pets allowed."},
    "amenities": {"type": "array", "items": {"type": "string"}, "description": "Wanted amenities."},
    "guests": {"type": "dict", "description": "Who comes.", "properties": {
        "adults": {"type": "integer", "description": "Adults."},
        "children": {"type": "integer", "description": "Children."}}},
    "rooms": {"type": "array", "description": "Rooms.", "items": {"type": "dict", "properties": {
        "beds": {"type": "integer", "description": "Beds."},
        "view": {"type": "string", "description": "View."}}}},
    "sort": {"type": "string", "enum": ["price", "rating"], "description": "Order."},
}, ["city", "nights"])

HOTEL_ANSWER = {"hotel.search": {
    "city": ["New York, NY", "NYC"],
    "nights": [3],
    "max_price": [150.0, ""],
    "pets": [True, ""],
    "amenities": [["Free wifi", "pool"], ""],
    "guests": [{"adults": [2], "children": [0, ""]}, ""],
    "rooms": [[{"beds": [2], "view": ["sea", ""]}, {"beds": [1], "view": ["sea", ""]}], ""],
    "sort": ["price", ""],
}}

WEATHER = doc("get_weather", {"city": {"type": "string", "description": "City."}}, ["city"])
TIME = doc("get_time", {"zone": {"type": "string", "description": "Time zone."}}, ["zone"])


def simple_case(answer=HOTEL_ANSWER):
    return ToolCase("simple_python_0", "simple_python", [{"role": "user", "content": "q"}], [HOTEL], [answer])


def hotel_call(**arguments):
    base = {"city": "New York, NY", "nights": 3}
    return [{"hotel.search": {**base, **arguments}}]


def assert_fails(verdict: Verdict, kind: str) -> None:
    assert (verdict.passed, verdict.kind) == (False, kind), verdict.detail
    assert verdict.detail and "\n" not in verdict.detail


def test_failure_kinds_are_the_documented_strings():
    assert FAILURE_KINDS == ("wrong_name", "missing_required", "unexpected_param", "wrong_type", "wrong_value",
                             "wrong_count", "parse_error", "no_call", "unexpected_call")


# ---------------------------------------------------------------- names and parameters


def test_exact_call_passes():
    verdict = check(simple_case(), hotel_call(max_price=150.0, pets=True, sort="price"))
    assert verdict == Verdict(True, None, "call matched")


def test_other_function_name_is_wrong_name():
    assert_fails(check(simple_case(), [{"hotel_search": {"city": "NYC", "nights": 3}}]), "wrong_name")


def test_missing_required_parameter():
    assert_fails(check(simple_case(), [{"hotel.search": {"city": "NYC"}}]), "missing_required")


def test_parameter_the_answer_needs_but_schema_calls_optional_counts_as_missing_required():
    answer = {"hotel.search": {**HOTEL_ANSWER["hotel.search"], "pets": [True]}}
    assert_fails(check(simple_case(answer), hotel_call()), "missing_required")


def test_undeclared_parameter_is_unexpected():
    assert_fails(check(simple_case(), hotel_call(stars=5)), "unexpected_param")


def test_declared_parameter_the_answer_does_not_list_is_unexpected():
    answer = {"hotel.search": {"city": ["NYC"], "nights": [3]}}
    assert_fails(check(simple_case(answer), hotel_call(city="NYC", sort="price")), "unexpected_param")


# ---------------------------------------------------------------- types


@pytest.mark.parametrize("value", ["3", 3.0, True, [3]])
def test_integer_parameter_rejects_other_json_types(value):
    assert_fails(check(simple_case(), hotel_call(nights=value)), "wrong_type")


def test_int_is_accepted_for_float():
    assert check(simple_case(), hotel_call(max_price=150)).passed


def test_string_parameter_rejects_number():
    assert_fails(check(simple_case(), hotel_call(city=7)), "wrong_type")


def test_boolean_parameter_rejects_string():
    assert_fails(check(simple_case(), hotel_call(pets="true")), "wrong_type")


def test_array_elements_are_type_checked_against_the_answer():
    answer = {"hotel.search": {**HOTEL_ANSWER["hotel.search"], "amenities": [["Free wifi", "pool"]]}}
    assert_fails(check(simple_case(answer), hotel_call(amenities=["Free wifi", 3])), "wrong_type")


def test_dict_parameter_rejects_a_json_string():
    assert_fails(check(simple_case(), hotel_call(guests='{"adults": 2}')), "wrong_type")


def test_value_of_the_answers_own_type_is_compared_as_is():
    # BFCL's "variable" rule: an integer parameter whose allowed values are strings.
    answer = {"hotel.search": {"city": ["NYC"], "nights": ["num_nights"]}}
    assert check(simple_case(answer), hotel_call(city="NYC", nights="num_nights")).passed
    assert_fails(check(simple_case(answer), hotel_call(city="NYC", nights="NUM_NIGHTS")), "wrong_value")


# ---------------------------------------------------------------- values


@pytest.mark.parametrize("city", ["new york ny", "NEW-YORK/NY.", "New_York,*NY^", "nyc", "N.Y.C."])
def test_strings_compare_after_bfcl_normalisation(city):
    assert check(simple_case(), hotel_call(city=city)).passed


@pytest.mark.parametrize("city", ["New York!", "New\tYork, NY", "New York City", "York New NY"])
def test_other_differences_in_strings_are_wrong_values(city):
    assert_fails(check(simple_case(), hotel_call(city=city)), "wrong_value")


def test_normalisation_is_exactly_bfcls():
    assert normalise_string("It's  April 1, 2024 - 10/11 *^_") == 'it"sapril120241011'
    assert normalise_string("A\tB\nC!?") == "a\tb\nc!?"


def test_wrong_number_is_wrong_value():
    assert_fails(check(simple_case(), hotel_call(nights=4)), "wrong_value")


def test_enum_value_outside_the_answer_is_wrong_value():
    assert_fails(check(simple_case(), hotel_call(sort="rating")), "wrong_value")


def test_optional_parameters_may_be_left_out():
    assert check(simple_case(), hotel_call()).passed


def test_parameter_allowed_only_empty_must_not_carry_a_value():
    answer = {"hotel.search": {**HOTEL_ANSWER["hotel.search"], "sort": [""]}}
    assert_fails(check(simple_case(answer), hotel_call(sort="price")), "wrong_value")


def test_list_values_compare_in_order_with_strings_normalised():
    assert check(simple_case(), hotel_call(amenities=["free WiFi", "Pool"])).passed
    assert_fails(check(simple_case(), hotel_call(amenities=["pool", "Free wifi"])), "wrong_value")
    assert_fails(check(simple_case(), hotel_call(amenities=["Free wifi"])), "wrong_value")


def test_empty_list_matches_an_optional_list_parameter():
    assert check(simple_case(), hotel_call(amenities=[])).passed


def test_dict_values_compare_key_by_key():
    assert check(simple_case(), hotel_call(guests={"adults": 2, "children": 0})).passed
    assert check(simple_case(), hotel_call(guests={"adults": 2})).passed
    assert_fails(check(simple_case(), hotel_call(guests={"adults": 3})), "wrong_value")
    assert_fails(check(simple_case(), hotel_call(guests={"children": 0})), "wrong_value")
    assert_fails(check(simple_case(), hotel_call(guests={"adults": 2, "pets": 1})), "wrong_value")


def test_list_of_dicts_compares_each_dict_in_order():
    rooms = [{"beds": 2, "view": "Sea"}, {"beds": 1}]
    assert check(simple_case(), hotel_call(rooms=rooms)).passed
    assert_fails(check(simple_case(), hotel_call(rooms=rooms[::-1])), "wrong_value")
    assert_fails(check(simple_case(), hotel_call(rooms=rooms[:1])), "wrong_value")


def test_list_of_dicts_with_a_non_dict_element_fails_without_crashing():
    assert_fails(check(simple_case(), hotel_call(rooms=[{"beds": 2}, "single"])), "wrong_value")


# ---------------------------------------------------------------- counts and categories


def test_simple_case_needs_exactly_one_call():
    assert_fails(check(simple_case(), hotel_call() * 2), "wrong_count")


def test_zero_calls_where_calls_are_expected_is_no_call():
    assert_fails(check(simple_case(), []), "no_call")


def multiple_case():
    answer = [{"get_time": {"zone": ["Europe/Paris", "CET"]}}]
    return ToolCase("multiple_0", "multiple", [], [WEATHER, TIME], answer)


def test_multiple_checks_the_expected_function_among_several():
    assert check(multiple_case(), [{"get_time": {"zone": "europe/paris"}}]).passed
    assert_fails(check(multiple_case(), [{"get_weather": {"city": "Paris"}}]), "wrong_name")
    assert_fails(check(multiple_case(), [{"get_time": {"zone": "CET"}}] * 2), "wrong_count")
    assert_fails(check(multiple_case(), []), "no_call")


def parallel_case(category="parallel_multiple"):
    answer = [{"get_weather": {"city": ["Oslo"]}}, {"get_weather": {"city": ["Rome"]}},
              {"get_time": {"zone": ["CET"]}}]
    return ToolCase(f"{category}_0", category, [], [WEATHER, TIME], answer)


def test_parallel_calls_match_in_any_order():
    calls = [{"get_weather": {"city": "Oslo"}}, {"get_weather": {"city": "Rome"}}, {"get_time": {"zone": "CET"}}]
    for order in ([0, 1, 2], [2, 1, 0], [1, 2, 0]):
        assert check(parallel_case(), [calls[i] for i in order]).passed


def test_parallel_call_counts_must_be_equal():
    calls = [{"get_weather": {"city": "Oslo"}}, {"get_weather": {"city": "Rome"}}]
    assert_fails(check(parallel_case(), calls), "wrong_count")
    assert_fails(check(parallel_case(), calls * 2), "wrong_count")


def test_parallel_mismatch_reports_the_closest_calls_failure():
    calls = [{"get_weather": {"city": "Oslo"}}, {"get_weather": {"city": "Paris"}}, {"get_time": {"zone": "CET"}}]
    verdict = check(parallel_case(), calls)
    assert_fails(verdict, "wrong_value")
    assert "'get_weather'" in verdict.detail and "Paris" in verdict.detail


def test_parallel_duplicate_call_cannot_match_two_answers():
    calls = [{"get_weather": {"city": "Oslo"}}, {"get_weather": {"city": "Oslo"}}, {"get_time": {"zone": "CET"}}]
    assert_fails(check(parallel_case(), calls), "wrong_value")


def test_parallel_matching_is_greedy_like_bfcl():
    # BFCL takes, for each expected call in answer order, the first unmatched call that passes; a
    # broad first answer can take the call a later answer needed even though a pairing exists.
    answer = [{"get_weather": {"city": ["Oslo", "Rome"]}}, {"get_weather": {"city": ["Oslo"]}}]
    case = ToolCase("parallel_0", "parallel", [], [WEATHER], answer)
    oslo, rome = {"get_weather": {"city": "Oslo"}}, {"get_weather": {"city": "Rome"}}
    assert check(case, [rome, oslo]).passed
    assert_fails(check(case, [oslo, rome]), "wrong_value")


def irrelevance_case():
    return ToolCase("irrelevance_0", "irrelevance", [], [WEATHER], None)


def test_irrelevance_passes_only_without_calls():
    assert check(irrelevance_case(), []).passed
    assert_fails(check(irrelevance_case(), [{"get_weather": {"city": "Oslo"}}]), "unexpected_call")


def test_case_needing_answers_without_them_is_a_programming_error():
    with pytest.raises(ValueError):
        check_calls([WEATHER], None, "simple", [{"get_weather": {"city": "Oslo"}}])


# ---------------------------------------------------------------- parse errors


def test_parse_error_fails_in_every_category_even_irrelevance():
    error = ToolCallParseError("arguments of 'get_weather' are not valid JSON")
    for case in (simple_case(), multiple_case(), parallel_case(), irrelevance_case()):
        assert_fails(check(case, error), "parse_error")


@pytest.mark.parametrize("calls", [
    None,
    "get_weather(city='Oslo')",
    [{"get_weather": {"city": "Oslo"}, "get_time": {"zone": "CET"}}],
    [{"get_weather": '{"city": "Oslo"}'}],
    [["get_weather", {"city": "Oslo"}]],
])
def test_reply_not_in_decoded_form_is_parse_error(calls):
    assert_fails(check(simple_case(), calls), "parse_error")
    assert_fails(check(irrelevance_case(), calls), "parse_error")


def message(*calls, content=None):
    tool_calls = [{"id": f"call_{i}", "type": "function", "function": {"name": name, "arguments": arguments}}
                  for i, (name, arguments) in enumerate(calls)]
    return ChatCompletionMessage.model_validate(
        {"role": "assistant", "content": content, "tool_calls": tool_calls or None})


def test_check_message_maps_sent_names_back_and_scores():
    reply = message(("hotel_search", '{"city": "NYC", "nights": 3}'))
    assert check_message(simple_case(), reply).passed


def test_check_message_with_invalid_json_arguments_is_parse_error():
    reply = message(("get_weather", '{"city": "Oslo"'))
    assert_fails(check_message(irrelevance_case(), reply), "parse_error")
    assert_fails(check_message(simple_case(), message(("hotel_search", "[1, 2]"))), "parse_error")


def test_check_message_text_only_reply():
    reply = message(content="I cannot look up the weather.")
    assert check_message(irrelevance_case(), reply).passed
    assert_fails(check_message(simple_case(), reply), "no_call")


def test_check_message_reads_tool_call_text_only_when_asked():
    reply = message(content='<tool_call>{"name": "get_weather", "arguments": {"city": "Oslo"}}</tool_call>')
    assert check_message(irrelevance_case(), reply).passed
    assert_fails(check_message(irrelevance_case(), reply, text_fallback=True), "unexpected_call")


def test_hostile_values_keep_the_detail_to_one_short_line():
    hostile = "x\n" * 5000
    verdict = check(simple_case(), hotel_call(city=hostile))
    assert_fails(verdict, "wrong_value")
    assert len(verdict.detail) < 400
    verdict = check(simple_case(), [{hostile: {}}])
    assert_fails(verdict, "wrong_name")
    assert len(verdict.detail) < 400
