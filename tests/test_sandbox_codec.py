"""The data-only codec between candidate, judge and parent: exact round trips, subclasses read
through their base type, refusals, and hostile bytes that must decode to an error, never to code."""

from __future__ import annotations

import math
import os
import random
import struct

import pytest

from pytest_mlxbench.sandbox.worker import codec

ROUND_TRIPS = [
    None, True, False, 0, -1, 2**63 - 1, -(2**63), 2**64, -(10**200), 1.5, -0.0, float("inf"), float("-inf"),
    1e-308, 3 + 4j, "", "héllo ✓", "lone \udc80 surrogate", b"", b"\x00\xff", bytearray(b"ab"), [], (), set(),
    frozenset(), {}, [1, [2, [3, (4, 5)]]], {"a": 1, 2: "b", (3, 4): [5], None: {frozenset({1}): b"x"}},
    {1, 2.5, "three", (4,)}, [{"nested": ({"deep": [None]},)}],
]


def stable_id(value) -> str:
    """repr, with a set's members sorted: a set's order follows string hashing and insertion
    history, which differ between processes (pytest-xdist workers must collect the same ids) and
    between a set and its decoded copy."""
    if isinstance(value, (set, frozenset)) and value:
        return f"{type(value).__name__}({', '.join(sorted(map(repr, value)))})"
    return repr(value)


@pytest.mark.parametrize("value", ROUND_TRIPS, ids=stable_id)
def test_plain_values_round_trip_with_their_exact_types(value):
    decoded = codec.decode(codec.encode(value))
    assert decoded == value and stable_id(decoded) == stable_id(value)  # reprs: 0.0 vs -0.0, 1 vs True
    assert type(decoded) is type(value)


def test_nan_and_negative_zero_keep_their_bits():
    nan = codec.decode(codec.encode(float("nan")))
    assert math.isnan(nan)
    assert math.copysign(1.0, codec.decode(codec.encode(-0.0))) == -1.0


def test_subclasses_cross_as_their_base_type_without_their_overrides():
    class Liar(int):
        def __eq__(self, other):
            return True

        def __int__(self):
            return 999

        __hash__ = int.__hash__

    class LyingList(list):
        def __iter__(self):
            return iter(["forged"])

    class LyingDict(dict):
        def items(self):
            return [("forged", 1)]

    assert codec.decode(codec.encode(Liar(5))) == 5 and type(codec.decode(codec.encode(Liar(5)))) is int
    assert codec.decode(codec.encode(LyingList([1, 2]))) == [1, 2]
    assert codec.decode(codec.encode(LyingDict(a=1))) == {"a": 1}
    assert codec.decode(codec.encode(True)) is True  # bool is not taken for its base int


@pytest.mark.parametrize("value", [object(), lambda: 1, (x for x in []), range(3), {1: object()}, [1, [print]]],
                         ids=["object", "function", "generator", "range", "dict of object", "nested builtin"])
def test_anything_else_is_unencodable(value):
    with pytest.raises(codec.Unencodable, match="not plain data"):
        codec.encode(value)


def test_size_and_depth_limits():
    with pytest.raises(codec.Unencodable, match="over the limit"):
        codec.encode(b"x" * 1000, max_bytes=100)
    deep: list = []
    cursor = deep
    for _ in range(5000):
        cursor.append([])
        cursor = cursor[0]
    with pytest.raises(codec.Unencodable, match="nested"):
        codec.encode(deep)


def test_hostile_nesting_decodes_to_an_error_not_a_crash():
    header = b"l" + struct.pack("<I", 1)
    with pytest.raises(codec.DecodeError, match="nesting deeper"):
        codec.decode(header * 200_000 + b"N")


@pytest.mark.parametrize("data", [
    b"", b"Q", b"l\xff\xff\xff\xff", b"s\x05\x00\x00\x00ab", b"i\x01", b"NN",
    b"S\x01\x00\x00\x00l\x00\x00\x00\x00",  # a set holding a list: unhashable
    b"d\x01\x00\x00\x00l\x00\x00\x00\x00N",  # a dict keyed by a list
    b"s\x02\x00\x00\x00\xff\xfe",  # not UTF-8
], ids=["empty", "unknown tag", "huge count", "short string", "short int", "trailing bytes", "unhashable set member",
        "unhashable key", "bad utf-8"])
def test_malformed_bytes_are_decode_errors(data):
    with pytest.raises(codec.DecodeError):
        codec.decode(data)


def test_random_bytes_only_ever_decode_to_plain_data_or_an_error():
    allowed = (type(None), bool, int, float, complex, str, bytes, bytearray, list, tuple, set, frozenset, dict)
    rng = random.Random(20261203)
    seeds = [codec.encode(value) for value in ROUND_TRIPS]
    for _ in range(3000):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 4)):
            if data:
                data[rng.randrange(len(data))] = rng.randrange(256)
        try:
            value = codec.decode(bytes(data))
        except codec.DecodeError:
            continue
        stack = [value]
        while stack:
            item = stack.pop()
            assert type(item) in allowed
            if isinstance(item, dict):
                stack.extend([*item.keys(), *item.values()])
            elif isinstance(item, (list, tuple, set, frozenset)):
                stack.extend(item)


def test_frames_on_a_pipe_with_a_deadline_and_a_size_cap():
    read_end, write_end = os.pipe()
    try:
        codec.write_frame(write_end, codec.encode(("ok", 5)))
        assert codec.decode(codec.read_frame(read_end, 1024)) == ("ok", 5)
        with pytest.raises(codec.ChannelTimeout):
            codec.read_frame(read_end, 1024, deadline=0.0)
        codec.write_frame(write_end, b"x" * 2000)
        with pytest.raises(codec.DecodeError, match="over the limit"):
            codec.read_frame(read_end, 1024)
    finally:
        os.close(write_end)
        os.close(read_end)
