"""The data-only codec for everything that crosses between candidate, judge and parent.

Only plain values cross: None, bool, int (any size), float (nan, inf and -0.0 kept), complex,
str (lone surrogates kept), bytes, bytearray, list, tuple, set, frozenset and dict. A subclass
of one of these crosses as its base type, read through the base type's own slots, so an
overridden ``__eq__``, ``__iter__`` or ``__int__`` never reaches the other side. Anything else
(a function, a generator, an instance of a class) raises :class:`Unencodable`.

Decoding builds nothing but those types, checks every length against the bytes that are left,
limits nesting to :data:`MAX_DEPTH` and raises :class:`DecodeError` for anything malformed: the
bytes may come from hostile code. No pickle, no marshal, no code objects.

Stdlib only: this module runs inside the sandbox workers (``python -I -S``) as well as in the
parent.
"""

from __future__ import annotations

import os
import select
import struct
import time

MAX_DEPTH = 1000
_HEADER = struct.Struct("<I")
_INT64 = struct.Struct("<q")
_DOUBLE = struct.Struct("<d")
_COMPLEX = struct.Struct("<dd")
_COUNT = struct.Struct("<I")
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_os_read, _os_write = os.read, os.write  # candidates may patch ``os``; their own answers still go out
_CONTAINER_TAGS = {b"l"[0]: list, b"t"[0]: tuple, b"S"[0]: set, b"Z"[0]: frozenset, b"d"[0]: dict}


class Unencodable(ValueError):
    """A value that is not plain data, or too large or too deeply nested to send."""


class DecodeError(ValueError):
    """Bytes that are not a well-formed encoding."""


class ChannelClosed(EOFError):
    """The other end closed the pipe (or died) before a whole frame arrived."""


class ChannelTimeout(TimeoutError):
    """No whole frame arrived before the deadline."""


# ----------------------------------------------------------------------------- encoding


def encode(value: object, max_bytes: int = 1 << 30) -> bytes:
    """The bytes of ``value``; :class:`Unencodable` if it is not plain data or exceeds ``max_bytes``."""
    parts: list[bytes] = []
    try:
        _encode(value, parts.append, 0)
    except RecursionError:
        raise Unencodable("a value nested too deeply") from None
    data = b"".join(parts)
    if len(data) > max_bytes:
        raise Unencodable(f"a value of {len(data)} bytes, over the limit of {max_bytes}")
    return data


def _encode(value: object, out, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise Unencodable(f"a value nested deeper than {MAX_DEPTH}")
    kind = type(value)
    if kind is int and _INT64_MIN <= value <= _INT64_MAX:  # the common cases first
        out(b"i" + _INT64.pack(value))
    elif kind is str:
        _encode_blob(b"s", value.encode("utf-8", "surrogatepass"), out)
    elif kind is list or kind is tuple:
        out((b"l" if kind is list else b"t") + _COUNT.pack(len(value)))
        for item in value:
            _encode(item, out, depth + 1)
    elif value is None:
        out(b"N")
    elif kind is bool:
        out(b"T" if value else b"F")
    elif isinstance(value, int):
        _encode_int(int.__int__(value), out)
    elif isinstance(value, float):
        out(b"f" + _DOUBLE.pack(float.__float__(value)))
    elif isinstance(value, complex):
        out(b"c" + _COMPLEX.pack(complex.real.__get__(value), complex.imag.__get__(value)))
    elif isinstance(value, str):
        _encode_blob(b"s", str.__str__(value).encode("utf-8", "surrogatepass"), out)
    elif isinstance(value, (bytes, bytearray)):
        _encode_blob(b"a" if isinstance(value, bytearray) else b"b", b"".join([memoryview(value)]), out)
    elif isinstance(value, dict):
        items = list(dict.items(value))
        out(b"d" + _COUNT.pack(len(items)))
        for key, item in items:
            _encode(key, out, depth + 1)
            _encode(item, out, depth + 1)
    else:
        _encode_sequence(value, out, depth)


def _encode_int(number: int, out) -> None:
    if _INT64_MIN <= number <= _INT64_MAX:
        out(b"i" + _INT64.pack(number))
    else:
        size = (number.bit_length() + 8) // 8
        _encode_blob(b"I", number.to_bytes(size, "little", signed=True), out)


def _encode_blob(tag: bytes, blob: bytes, out) -> None:
    out(tag + _COUNT.pack(len(blob)))
    out(blob)


def _encode_sequence(value: object, out, depth: int) -> None:
    for base, tag in ((list, b"l"), (tuple, b"t"), (set, b"S"), (frozenset, b"Z")):
        if isinstance(value, base):
            items = list(base.__iter__(value))
            out(tag + _COUNT.pack(len(items)))
            for item in items:
                _encode(item, out, depth + 1)
            return
    raise Unencodable(f"a value of type {_type_name(value)}, which is not plain data")


def _type_name(value: object) -> str:
    try:
        return str(type.__getattribute__(type(value), "__qualname__"))[:80]
    except Exception:  # noqa: BLE001 - a hostile metaclass
        return "unknown"


# ----------------------------------------------------------------------------- decoding


def decode(data: bytes) -> object:
    """The value encoded in ``data``; :class:`DecodeError` if malformed."""
    view = memoryview(data)
    try:
        value, end = _decode(view)
    except (struct.error, UnicodeDecodeError, IndexError, OverflowError) as exc:
        raise DecodeError(f"malformed data: {exc}") from None
    if end != len(view):
        raise DecodeError(f"{len(view) - end} bytes after the value")
    return value


def _decode(view: memoryview) -> tuple[object, int]:
    """Iterative: a stack of open containers, so hostile nesting cannot exhaust the C stack."""
    stack: list[list] = []  # [factory, remaining, items]
    position = 0
    size = len(view)
    while True:
        if position >= size:
            raise DecodeError("data ends inside a value")
        tag = view[position]
        position += 1
        factory = _CONTAINER_TAGS.get(tag)
        if factory is not None:
            (count,) = _COUNT.unpack_from(view, position)
            position += 4
            expected = count * 2 if factory is dict else count
            if expected > size - position:
                raise DecodeError("a container claims more items than there are bytes")
            if len(stack) >= MAX_DEPTH:
                raise DecodeError(f"nesting deeper than {MAX_DEPTH}")
            stack.append([factory, expected, []])
            if expected:
                continue
            value = _close(stack.pop())
        else:
            value, position = _decode_scalar(tag, view, position)
        while True:
            if not stack:
                return value, position
            top = stack[-1]
            top[2].append(value)
            top[1] -= 1
            if top[1]:
                break
            value = _close(stack.pop())


def _close(frame: list) -> object:
    factory, _, items = frame
    try:
        if factory is dict:
            return dict(zip(items[::2], items[1::2]))
        return factory(items) if factory is not list else items
    except TypeError as exc:  # an unhashable set member or dict key
        raise DecodeError(f"malformed data: {exc}") from None


def _decode_scalar(tag: int, view: memoryview, position: int) -> tuple[object, int]:
    if tag == 0x4E:  # N
        return None, position
    if tag == 0x54:  # T
        return True, position
    if tag == 0x46:  # F
        return False, position
    if tag == 0x69:  # i
        return _INT64.unpack_from(view, position)[0], position + 8
    if tag == 0x66:  # f
        return _DOUBLE.unpack_from(view, position)[0], position + 8
    if tag == 0x63:  # c
        real, imag = _COMPLEX.unpack_from(view, position)
        return complex(real, imag), position + 16
    if tag in (0x73, 0x62, 0x61, 0x49):  # s b a I
        (length,) = _COUNT.unpack_from(view, position)
        start, end = position + 4, position + 4 + length
        if end > len(view):
            raise DecodeError("a string or bytes value runs past the end")
        blob = view[start:end]
        if tag == 0x73:
            return str(blob, "utf-8", "surrogatepass"), end
        if tag == 0x62:
            return bytes(blob), end
        if tag == 0x61:
            return bytearray(blob), end
        return int.from_bytes(blob, "little", signed=True), end
    raise DecodeError(f"unknown type tag {tag!r}")


# ----------------------------------------------------------------------------- frames on pipes


def write_frame(fd: int, payload: bytes) -> None:
    """One length-prefixed frame; blocks until written (pipes to a live reader)."""
    data = memoryview(_HEADER.pack(len(payload)) + payload)
    while data:
        written = _os_write(fd, data)
        data = data[written:]


def read_frame(fd: int, max_bytes: int, deadline: float | None = None) -> bytes:
    """One frame of at most ``max_bytes``; :class:`ChannelClosed` at EOF, :class:`ChannelTimeout`
    after ``deadline`` (a ``time.monotonic()`` value), :class:`DecodeError` if too large."""
    (length,) = _HEADER.unpack(_read_exactly(fd, _HEADER.size, deadline))
    if length > max_bytes:
        raise DecodeError(f"a message of {length} bytes, over the limit of {max_bytes}")
    return _read_exactly(fd, length, deadline)


def read_to_end(fd: int) -> bytes:
    """Everything until the writer closes its end; closes ``fd``."""
    chunks = []
    while chunk := _os_read(fd, 1 << 20):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


def _read_exactly(fd: int, count: int, deadline: float | None) -> bytes:
    chunks = bytearray()
    while len(chunks) < count:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise ChannelTimeout("no reply in time")
        chunk = _os_read(fd, min(count - len(chunks), 1 << 20))
        if not chunk:
            raise ChannelClosed("the other end closed the channel")
        chunks += chunk
    return bytes(chunks)
