"""EvalPlus's per-output verdict (``suites/evalplus/oracle.py``, the code the sandbox's judge runs):
its numpy-free ``allclose`` against numpy's on many varied plain values, and each of EvalPlus's
rules and special oracles on examples worked out from EvalPlus's source."""

from __future__ import annotations

import math
import random
import warnings

import numpy
import pytest

from pytest_mlxbench.suites.evalplus.oracle import (
    FLOAT_TOLERANCE,
    MBPP_OUTPUT_NOT_NONE,
    MBPP_OUTPUT_SET_EQUAL,
    OPAQUE,
    allclose,
    output_passes,
)

LEAVES = [0.0, 1.0, -1.5, 1e-7, 2.0000001, math.inf, -math.inf, math.nan, 1e300, 3.14159, 0, 1, -3, 2**53 + 1,
          2**63, 2**64, -(2**63) - 1, 10**30, 10**400, True, False, complex(1, 0), complex(2.5, 1e-9), "a", None,
          b"x", {1: 2}, {3}]


def random_value(rng: random.Random, depth: int = 0):
    if depth > 2 or rng.random() < 0.3:
        return rng.choice(LEAVES) if rng.random() < 0.5 else rng.uniform(-10, 10)
    kind, size = rng.choice([list, tuple]), rng.choice([0, 1, 2, 3])
    if rng.random() < 0.7:  # rectangular: copies of one shape
        proto = random_value(rng, depth + 1)
        return kind(perturbed(rng, proto) for _ in range(size))
    return kind(random_value(rng, depth + 1) for _ in range(size))


def perturbed(rng: random.Random, value):
    if isinstance(value, (list, tuple)):
        return type(value)(perturbed(rng, item) for item in value)
    if isinstance(value, float) and rng.random() < 0.5:
        return value * (1 + rng.choice([0, 1e-8, 1e-6, 1e-3]))
    if type(value) is int and rng.random() < 0.3:
        return value + rng.choice([0, 1])
    return value


def numpy_allclose(actual, desired, atol: float) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return bool(numpy.allclose(actual, desired, rtol=1e-07, atol=atol))
        except Exception:  # noqa: BLE001 - EvalPlus fails an output whose comparison raises
            return False


def test_allclose_agrees_with_numpy_on_varied_values():
    rng = random.Random(20240611)
    differing, close = [], 0
    for _ in range(20_000):
        actual = random_value(rng)
        desired = perturbed(rng, actual) if rng.random() < 0.6 else random_value(rng)
        atol = rng.choice([0.0, 1e-6, 1e-4, 1e-2])
        reference = numpy_allclose(actual, desired, atol)
        close += reference
        if allclose(actual, desired, 1e-07, atol) != reference:
            differing.append((actual, desired, atol, reference))
    assert differing == []
    assert 5_000 < close < 15_000  # both answers well represented


@pytest.mark.parametrize(("actual", "desired", "atol", "close"), [
    (1.0, 1.0 + 5e-7, 1e-6, True),
    (1.0, 1.0 + 5e-6, 1e-6, False),
    ([1.0, 2.0], [1.0, 2.0 + 1e-7], 1e-6, True),
    ([[1.0], [2.0]], [[1.0, 1.0], [2.0, 2.0]], 1e-6, True),  # broadcast as numpy does
    ([1, 2], [1.0, 2.0000001], 1e-6, True),
    ([math.nan], [math.nan], 1e-6, False),
    ([math.inf], [math.inf], 1e-6, True),
    (["a"], ["a"], 1e-6, False),  # numpy refuses text
    ([[1.0], [2.0, 3.0]], [[1.0], [2.0, 3.0]], 1e-6, False),  # ragged
    ([2**64], [2**64], 1e-6, False),  # an object array: no finiteness test
])
def test_allclose_examples(actual, desired, atol, close):
    assert allclose(actual, desired, 1e-07, atol) is close
    assert numpy_allclose(actual, desired, atol) is close


def passes(out, expected, *, entry_point="f", args=(), atol=0.0, rules="mbpp") -> bool:
    return output_passes(rules, entry_point, out, expected, list(args), atol)[0]


def test_equal_outputs_pass_and_different_ones_fail():
    assert passes([1, 2], [1, 2]) and passes(3, 3.0) and passes(True, 1)
    assert not passes([1, 2], (1, 2)) and not passes("3", 3) and not passes(None, 0)


def test_floats_get_a_tolerance_from_the_first_float_output_on():
    assert passes(0.1 + 0.2, 0.3)  # atol 0, but a float expected: 1e-6
    assert not passes(0.3001, 0.3)
    passed, atol = output_passes("mbpp", "f", [0.5, 1.0], [0.5, 1.0 + 1e-9], [], 0)
    assert passed and atol == FLOAT_TOLERANCE
    # the raised tolerance stays for later inputs of the stage, even for an int output
    assert output_passes("mbpp", "f", 10, 10.0000000001, [], FLOAT_TOLERANCE)[0] is False  # types differ
    assert output_passes("mbpp", "f", 10.0, 10.0000000001, [], FLOAT_TOLERANCE)[0] is True


def test_within_tolerance_needs_equal_types_and_lengths():
    assert passes([1.0, 2.0000001], [1.0, 2.0], atol=1e-4)
    assert not passes((1.0, 2.0000001), [1.0, 2.0], atol=1e-4)
    assert not passes([1.0], [1.0, 2.0], atol=1e-4)


def test_special_rules_of_mbpp():
    assert passes("anything", False, entry_point="are_equivalent")  # Mbpp/164
    assert passes(0, 7, entry_point="sum_div") and not passes(6, 7, entry_point="sum_div")  # Mbpp/295
    # Mbpp/581: the reference takes the height as the slant height (33); also right: as the perpendicular one
    area = {"entry_point": "surface_Area", "args": (3, 4)}
    assert passes(33, 33, **area) and passes(35, 33, **area) and not passes(34, 33, **area)
    assert passes(7, 8, entry_point="digit_distance_nums", args=(123, 256))  # Mbpp/558: |1-2|+|2-5|+|3-6|
    for entry_point in MBPP_OUTPUT_SET_EQUAL:
        assert passes([3, 1, 2], (1, 2, 3), entry_point=entry_point)
        assert not passes([1, 2], (1, 2, 3), entry_point=entry_point)
    for entry_point in MBPP_OUTPUT_NOT_NONE:  # the expected value is whether the reference returned non-None
        assert passes(OPAQUE, True, entry_point=entry_point) and passes("match", True, entry_point=entry_point)
        assert passes(None, False, entry_point=entry_point) and not passes(None, True, entry_point=entry_point)
        assert passes(False, False, entry_point=entry_point) and not passes(False, True, entry_point=entry_point)


def test_special_rules_are_per_dataset():
    assert not passes("anything", False, entry_point="are_equivalent", rules="")
    # HumanEval/32: a root of the polynomial within atol, whatever the reference found
    assert passes(1.0, 99.0, entry_point="find_zero", args=([-1.0, 1.0],), atol=1e-6, rules="humaneval")
    assert not passes(2.0, 1.0, entry_point="find_zero", args=([-1.0, 1.0],), atol=1e-6, rules="humaneval")


def test_an_output_whose_judging_raises_fails():
    assert not passes(5, (1, 2), entry_point="similar_elements")  # set(5) raises
    assert not passes("x", 0, entry_point="surface_Area", args=(3, 4))
