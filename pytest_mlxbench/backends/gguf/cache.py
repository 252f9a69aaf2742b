"""Converted GGUF models in the user's cache, one directory per file content and target.

The directory name holds the file's sha256, the float dtype chosen for the machine
(float16 with Metal, float32 on the CPU) and the converter version, so a changed file,
another machine kind or a new converter never reuses a stale conversion. A conversion
is written to a temporary directory and renamed into place with a manifest written
last (`tinymodel.install_atomically`), so a crash never leaves a directory that looks
complete; a directory whose files no longer match their manifest is converted again.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from ..tinymodel import cache_root, install_atomically, is_intact, write_manifest
from .convert import check_convertible, convert
from .reader import read_gguf

# Part of the cache key: bump whenever converted files would change.
CONVERTER_VERSION = 1


def uses_metal() -> bool:
    import mlx.core as mx

    try:
        return bool(mx.metal.is_available())
    except AttributeError:  # an mlx build without the metal module
        return False


def converted_dir(path: Path, digest: str, metal: bool, root: Path | None = None) -> Path:
    stem = re.sub(r"[^\w.-]", "_", path.name.removesuffix(".gguf"))[:80]
    target = "metal-f16" if metal else "cpu-f32"
    return (root or cache_root() / "gguf") / f"{stem}-{digest[:16]}-{target}-v{CONVERTER_VERSION}"


def ensure_converted(
    path: Path, progress: Callable[[str], None] | None = None, metal: bool | None = None, root: Path | None = None
) -> Path:
    """The mlx-lm directory converted from the GGUF file at `path`, converting it on first use."""
    path = Path(path).resolve()
    progress = progress or _stderr_line
    gguf = read_gguf(path)
    check_convertible(gguf)
    metal = uses_metal() if metal is None else metal
    root = root or cache_root() / "gguf"
    digest = file_sha256(path, root / "hashes")
    target = converted_dir(path, digest, metal, root)
    if is_intact(target):
        return target
    progress(f"mlxbench: converting {path.name} to an mlx-lm model in {target} (once; reused after) ...")
    started = time.perf_counter()
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-build-", dir=root))
    try:
        convert(gguf, staging, metal, digest)
        write_manifest(staging)
        install_atomically(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    progress(f"mlxbench: converted {path.name} in {time.perf_counter() - started:.1f} s")
    return target


def file_sha256(path: Path, memo_dir: Path) -> str:
    """The file's sha256, remembered per (path, size, mtime, inode) so a large file is hashed once."""
    stat = path.stat()
    identity = f"{path}|{stat.st_size}|{stat.st_mtime_ns}|{stat.st_ino}"
    memo = memo_dir / hashlib.sha256(identity.encode()).hexdigest()
    try:
        remembered = memo.read_text().strip()
        if re.fullmatch(r"[0-9a-f]{64}", remembered):
            return remembered
    except OSError:
        pass
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    result = digest.hexdigest()
    try:
        memo_dir.mkdir(parents=True, exist_ok=True)
        temporary = memo.with_name(f".{memo.name}.{os.getpid()}")
        temporary.write_text(result)
        os.replace(temporary, memo)
    except OSError:  # a read-only cache only costs hashing again next time
        pass
    return result


def _stderr_line(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
