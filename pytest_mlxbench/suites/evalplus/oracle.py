"""EvalPlus's verdict for one output, and the loop over a task's inputs: the code that runs in the
sandbox's judge (its source is the judge's trusted context; standard library only, no numpy there).

The rules, as EvalPlus's ``evalplus/eval/__init__.py`` (``unsafe_execute``) and
``_special_oracle.py`` decide them (read there; written here anew):

* ``out == expected``, unless a task's special rule says otherwise. MBPP+ (by entry point):
  ``are_equivalent`` (Mbpp/164) passes anything; ``sum_div`` (Mbpp/295) also passes 0;
  ``surface_Area`` (Mbpp/581) passes within ``atol`` of the pyramid's area with the height as
  the perpendicular height, rounded; ``digit_distance_nums`` (Mbpp/558) passes the digit distance
  of the zero-padded numbers; eight tasks compare as sets (``set(out) == set(expected)``); the
  three regex tasks (Mbpp/737, 787, 794) only whether the output is None (a bool output must equal
  the expected truth value). HumanEval+: ``find_zero`` passes when ``|poly(xs, out)| <= atol``
  (and nothing else is checked for that input).
* A task with ``atol`` 0 gets 1e-6 from the first input whose expected output is a float, or a
  non-empty list or tuple of floats, on (for the rest of that stage: base and plus are separate
  runs in EvalPlus, so the tolerance starts again at the plus inputs).
* Not equal but with a tolerance: the types must be equal, lists and tuples of equal length, and
  ``numpy.allclose(out, expected, rtol=1e-07, atol=atol)`` must hold (:func:`allclose` is numpy's,
  for the values that cross the sandbox: numbers, nested lists and tuples; anything else fails).
* Any exception while judging an output fails it, as in EvalPlus.

Values the candidate returns that are not plain data cannot cross to the judge: that is a failure
here, except where the rule never looks at the value (the "is it None" tasks: such an output is not
None; ``are_equivalent``: any output passes).
"""

from __future__ import annotations

import math

INT64_MIN, UINT64_MAX = -(1 << 63), (1 << 64) - 1
FLOAT_TOLERANCE = 1e-6  # EvalPlus's atol for float outputs of tasks without one
RTOL = 1e-07
OPAQUE = object()  # stands for an output that could not cross: not None, not a bool

MBPP_OUTPUT_NOT_NONE = ("check_str", "text_match_three", "text_starta_endb")
MBPP_OUTPUT_SET_EQUAL = ("similar_elements", "find_char_long", "common_in_nested_lists", "extract_singly",
                         "larg_nnum", "intersection_array", "find_dissimilar", "Diff")


class NotAnArray(Exception):
    """What numpy refuses to compare: ragged nesting, text, objects where it needs numbers."""


def pyramid_surface_area(base_edge, height):
    """Mbpp/581's reference, with ``height`` the perpendicular height of the square pyramid."""
    slant_height = math.sqrt((base_edge / 2) ** 2 + height**2)
    return round(base_edge**2 + 4 * (base_edge * slant_height) / 2)


def padded_digit_distance(first, second):
    """Mbpp/558's reference: the digits of the zero-padded numbers, differences summed."""
    width = max(len(str(first)), len(str(second)))
    return sum(abs(int(a) - int(b)) for a, b in zip(str(first).zfill(width), str(second).zfill(width)))


def polynomial(coefficients, x):
    """HumanEval/32's ``poly``: sum of coefficient i times x to the i."""
    return sum(coefficient * math.pow(x, power) for power, coefficient in enumerate(coefficients))


def is_floats(value) -> bool:
    if isinstance(value, float):
        return True
    return isinstance(value, (list, tuple)) and bool(value) and all(isinstance(item, float) for item in value)


def output_passes(rules: str, entry_point: str, out, expected, args, atol) -> tuple[bool, float]:
    """Whether ``out`` passes for one input, and the tolerance for the inputs after it."""
    try:
        exact = out == expected
        if rules == "mbpp":
            exact = _mbpp_rule(entry_point, out, expected, args, atol, exact)
        elif rules == "humaneval" and entry_point == "find_zero":
            return abs(polynomial(*args, out)) <= atol, atol
        if atol == 0 and is_floats(expected):
            atol = FLOAT_TOLERANCE
        if exact or atol == 0:
            return bool(exact), atol
        if type(out) is not type(expected):
            return False, atol
        if isinstance(expected, (list, tuple)) and len(out) != len(expected):
            return False, atol
        return allclose(out, expected, RTOL, atol), atol
    except Exception:  # noqa: BLE001 - EvalPlus fails an input whose judging raises
        return False, atol


def _mbpp_rule(entry_point, out, expected, args, atol, exact):
    if entry_point == "are_equivalent":
        return True
    if entry_point == "sum_div":
        return exact or out == 0
    if entry_point == "surface_Area":
        return exact or abs(out - pyramid_surface_area(*args)) <= atol
    if entry_point == "digit_distance_nums":
        return exact or out == padded_digit_distance(*args)
    if entry_point in MBPP_OUTPUT_SET_EQUAL:
        return set(out) == set(expected)
    if entry_point in MBPP_OUTPUT_NOT_NONE:
        return out == expected if isinstance(out, bool) else expected == (out is not None)
    return exact


def allclose(actual, desired, rtol, atol) -> bool:
    """``numpy.allclose(actual, desired, rtol, atol)`` for plain values; False where numpy raises."""
    try:
        return _allclose(actual, desired, rtol, atol)
    except (NotAnArray, ArithmeticError, TypeError, ValueError):
        return False


def _allclose(actual, desired, rtol, atol) -> bool:
    if isinstance(desired, int):  # numpy makes a Python int (or bool) a float...
        desired = float(desired)
    if isinstance(actual, int):  # ... and converts one beside an array, empty or not
        actual = float(actual)
    desired_shape, desired_flat, desired_kind = _array(desired)
    actual_shape, actual_flat, actual_kind = _array(actual)
    if desired_kind != "numbers" or any(_beyond_64_bits(leaf) for leaf in desired_flat):
        raise NotAnArray("numpy cannot test an object or text array for finiteness")
    if actual_kind == "text":
        raise NotAnArray("numpy cannot subtract from text")
    shape = _broadcast(actual_shape, desired_shape)
    for index in _indexes(shape):  # none when the broadcast is empty: numpy then asks nothing of the values
        first = actual_flat[_flat_index(index, actual_shape)]
        second = desired_flat[_flat_index(index, desired_shape)]
        if not _close(_as_inexact(first), _as_inexact(second), rtol, atol):
            return False
    return True


def _close(actual, desired, rtol, atol) -> bool:
    if abs(actual - desired) <= atol + rtol * abs(desired) and _finite(desired):
        return True
    return actual == desired


def _finite(value) -> bool:
    if isinstance(value, complex):
        return math.isfinite(value.real) and math.isfinite(value.imag)
    return math.isfinite(value)


def _as_inexact(value):
    """numpy compares in floating point (an int beyond a float's range overflows: an error)."""
    if isinstance(value, (float, complex)):
        return value
    if isinstance(value, int):
        return float(value)
    raise TypeError(f"unsupported operand type {type(value).__name__}")


def _beyond_64_bits(value) -> bool:
    return isinstance(value, int) and not INT64_MIN <= value <= UINT64_MAX


def _array(value) -> tuple[tuple[int, ...], list, str]:
    """(shape, leaves in C order, kind) of ``numpy.asarray(value)``: kind ``numbers``, ``text``
    (a string among numbers: a text array) or ``objects`` (None, a dict, a set... among them)."""
    shape, leaves = _shape_and_leaves(value)
    numbers = (bool, int, float, complex)
    if all(isinstance(leaf, numbers) for leaf in leaves):
        return shape, leaves, "numbers"
    if all(isinstance(leaf, (*numbers, str, bytes)) for leaf in leaves):
        return shape, leaves, "text"
    return shape, leaves, "objects"


def _shape_and_leaves(value) -> tuple[tuple[int, ...], list]:
    if not isinstance(value, (list, tuple)):
        return (), [value]
    parts = [_shape_and_leaves(item) for item in value]
    shapes = {shape for shape, _ in parts}
    if len(shapes) > 1:
        raise NotAnArray("ragged nesting")
    inner = shapes.pop() if shapes else ()
    return (len(value), *inner), [leaf for _, leaves in parts for leaf in leaves]


def _broadcast(first: tuple, second: tuple) -> tuple:
    shape = []
    for index in range(1, max(len(first), len(second)) + 1):
        a = first[-index] if index <= len(first) else 1
        b = second[-index] if index <= len(second) else 1
        if a != b and 1 not in (a, b):
            raise NotAnArray("shapes do not broadcast")
        shape.append(b if a == 1 else a)
    return tuple(reversed(shape))


def _indexes(shape: tuple):
    if not shape:
        yield ()
        return
    for first in range(shape[0]):
        for rest in _indexes(shape[1:]):
            yield (first, *rest)


def _flat_index(index: tuple, shape: tuple) -> int:
    """Position in a C-order flat list of ``shape`` of the broadcast ``index`` (aligned right)."""
    position = 0
    for size, at in zip(shape, index[len(index) - len(shape):]):
        position = position * size + (0 if size == 1 else at)
    return position


def judge_stages(candidate, data, record) -> None:
    """The judge's test: call the candidate on every input of each stage (base, then plus), each
    within its time limit, and stop at the first output that does not pass. ``record``s where it
    stopped (``{"stage", "index"}``) before raising, so the parent learns which test failed first."""
    for stage in data["stages"]:
        atol = data["atol"]
        for index, args, expected, limit in zip(stage["indexes"], stage["inputs"], stage["expected"], stage["limits"]):
            try:
                out = candidate.call(args, timeout_s=limit)
            except BaseException as error:
                if not _opaque_is_enough(data, error):
                    record({"stage": stage["name"], "index": index})
                    raise
                out = OPAQUE
            passes, atol = output_passes(data["rules"], data["entry_point"], out, expected, args, atol)
            if not passes:
                record({"stage": stage["name"], "index": index})
                raise AssertionError(f"{stage['name']} input {index}: returned {_short(out)}, "
                                     f"expected {_short(expected)}")


def _opaque_is_enough(data, error: BaseException) -> bool:
    """A value that could not cross (``ReturnedUnencodable``: the judge raises it, a candidate cannot)
    still answers the tasks whose rule never looks at the value: it is not None, and it is an output."""
    return (type(error).__name__ == "ReturnedUnencodable" and data["rules"] == "mbpp"
            and data["entry_point"] in (*MBPP_OUTPUT_NOT_NONE, "are_equivalent"))


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
