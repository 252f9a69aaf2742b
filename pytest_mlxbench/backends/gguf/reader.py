"""Reading a GGUF file's header: metadata, tensor directory and where each tensor's bytes are.

Written from the GGUF specification (versions 2 and 3, little-endian). Every read is
checked, so a truncated, corrupt or non-GGUF file is one `BenchInputError` line instead
of a crash inside a native loader. Tensor bytes are not read here: `tensor_bytes`
maps them from the file on demand.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

from ...errors import BenchInputError
from .quants import GGML_TYPES, tensor_nbytes, type_name

MAGIC = b"GGUF"
_DEFAULT_ALIGNMENT = 32
# Limits far above any real file, so a corrupt count fails fast instead of allocating.
_MAX_COUNT = 1 << 24
_MAX_STRING = 1 << 26

_SCALARS = {
    0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d",
}
_STRING, _ARRAY = 8, 9


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]  # numpy order: the last axis is GGUF's first (contiguous) dimension
    ggml_type: int
    offset: int  # from the start of the file

    @property
    def type_name(self) -> str:
        return type_name(self.ggml_type)

    @property
    def nbytes(self) -> int:
        return tensor_nbytes(self.ggml_type, self.shape)


@dataclass
class GGUFFile:
    path: Path
    version: int
    metadata: dict = field(default_factory=dict)
    tensors: dict[str, TensorInfo] = field(default_factory=dict)

    @property
    def architecture(self) -> str | None:
        value = self.metadata.get("general.architecture")
        return value if isinstance(value, str) else None

    def arch_value(self, key: str, default=None):
        """An architecture-scoped key such as ``llama.block_count``."""
        return self.metadata.get(f"{self.architecture}.{key}", default)

    def tensor_bytes(self, name: str):
        """The tensor's raw bytes as a read-only numpy uint8 array mapped from the file."""
        import numpy as np

        info = self.tensors[name]
        return np.memmap(self.path, dtype=np.uint8, mode="r", offset=info.offset, shape=(info.nbytes,))


class _Cursor:
    def __init__(self, handle, path: Path):
        self.handle = handle
        self.path = path

    def read(self, size: int) -> bytes:
        data = self.handle.read(size)
        if len(data) != size:
            raise BenchInputError(
                f"{self.path}: the GGUF file is truncated (its header ends early): download or copy it again"
            )
        return data

    def unpack(self, fmt: str):
        return struct.unpack(fmt, self.read(struct.calcsize(fmt)))[0]

    def count(self, what: str) -> int:
        value = self.unpack("<Q")
        if value > _MAX_COUNT:
            raise _corrupt(self.path, f"{what} {value}")
        return value

    def string(self) -> str:
        size = self.unpack("<Q")
        if size > _MAX_STRING:
            raise _corrupt(self.path, f"string length {size}")
        return self.read(size).decode("utf-8", errors="replace")

    def value(self, value_type: int):
        if value_type in _SCALARS:
            return self.unpack(_SCALARS[value_type])
        if value_type == _STRING:
            return self.string()
        if value_type == _ARRAY:
            item_type = self.unpack("<I")
            length = self.count("array length")
            if item_type in _SCALARS:
                fmt = _SCALARS[item_type]
                return list(struct.unpack(f"<{length}{fmt[1]}", self.read(length * struct.calcsize(fmt))))
            if item_type == _STRING:
                return [self.string() for _ in range(length)]
            raise _corrupt(self.path, f"array of value type {item_type}")
        raise _corrupt(self.path, f"value type {value_type}")


def read_gguf(path: Path) -> GGUFFile:
    """Parse the header of the GGUF file at `path`; `BenchInputError` when it is not a complete GGUF."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            gguf, data_start = _read_header(_Cursor(handle, path))
    except OSError as error:
        raise BenchInputError(f"{path}: cannot read the GGUF file ({error.strerror or error})") from None
    _check_tensor_data(gguf, data_start, path.stat().st_size)
    return gguf


def _read_header(cursor: _Cursor) -> tuple[GGUFFile, int]:
    path = cursor.path
    magic = cursor.handle.read(4)
    if magic != MAGIC:
        raise BenchInputError(
            f"{path}: not a GGUF file (it does not start with the GGUF magic bytes): "
            "give a .gguf model file, or an mlx-lm model directory"
        )
    version = cursor.unpack("<I")
    if version not in (2, 3):
        hint = " (a big-endian file?)" if version > 0xFFFF else ""
        raise BenchInputError(f"{path}: GGUF version {version}{hint} is not supported (versions 2 and 3 are)")
    n_tensors = cursor.count("tensor count")
    n_metadata = cursor.count("metadata count")
    gguf = GGUFFile(path, version)
    for _ in range(n_metadata):
        key = cursor.string()
        gguf.metadata[key] = cursor.value(cursor.unpack("<I"))
    raw_infos = [_tensor_info(cursor) for _ in range(n_tensors)]
    alignment = gguf.metadata.get("general.alignment", _DEFAULT_ALIGNMENT)
    if not isinstance(alignment, int) or alignment <= 0:
        raise _corrupt(path, f"general.alignment {alignment!r}")
    header_end = cursor.handle.tell()
    data_start = -(-header_end // alignment) * alignment
    for name, shape, ggml_type, offset in raw_infos:
        gguf.tensors[name] = TensorInfo(name, shape, ggml_type, data_start + offset)
    return gguf, data_start


def _tensor_info(cursor: _Cursor) -> tuple[str, tuple[int, ...], int, int]:
    name = cursor.string()
    n_dims = cursor.unpack("<I")
    if not 1 <= n_dims <= 4:
        raise _corrupt(cursor.path, f"tensor {name} with {n_dims} dimensions")
    dims = [cursor.unpack("<Q") for _ in range(n_dims)]
    ggml_type = cursor.unpack("<I")
    offset = cursor.unpack("<Q")
    return name, tuple(reversed(dims)), ggml_type, offset


def _check_tensor_data(gguf: GGUFFile, data_start: int, file_size: int) -> None:
    for info in gguf.tensors.values():
        if info.ggml_type not in GGML_TYPES:
            raise _corrupt(gguf.path, f"tensor {info.name} of unknown GGML type {info.ggml_type}")
        end = info.offset + info.nbytes
        if end > file_size:
            raise BenchInputError(
                f"{gguf.path}: the GGUF file is truncated (tensor {info.name} needs bytes up to {end:,}, "
                f"the file has {file_size:,}): download or copy it again"
            )


def _corrupt(path: Path, what: str) -> BenchInputError:
    return BenchInputError(f"{path}: corrupt GGUF header ({what}): download or copy the file again")
