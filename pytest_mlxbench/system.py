"""The machine a run happened on, and memory measurements (macOS and Linux paths)."""

from __future__ import annotations

import platform
import subprocess
import sys
import threading
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import psutil

GB = 1024**3
MB = 1024**2


def detect_system(runner: str | None) -> dict:
    """The envelope's ``system`` object. Package versions come from metadata: mlx is not imported."""
    system = {
        "os": _os_name(),
        "chip": _chip_name(),
        "memory_gb": round(psutil.virtual_memory().total / GB),
        "python_version": platform.python_version(),
        "kernel": platform.release(),
    }
    for key, package in (("mlx_version", "mlx"), ("mlx_lm_version", "mlx-lm"), ("vllm_mlx_version", "vllm-mlx")):
        version = _package_version(package)
        if version:
            system[key] = version
    if runner:
        system["runner"] = runner
    return system


def _package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _os_name() -> str:
    if sys.platform == "darwin":
        return f"macOS {platform.mac_ver()[0]}".strip()
    if sys.platform.startswith("linux"):
        return _linux_distribution() or f"Linux {platform.release()}"
    return f"{platform.system()} {platform.release()}".strip()


def _linux_distribution() -> str | None:
    try:
        fields = dict(
            line.split("=", 1) for line in Path("/etc/os-release").read_text().splitlines() if "=" in line
        )
    except OSError:
        return None
    name = fields.get("PRETTY_NAME", "").strip('"')
    return f"Linux ({name})" if name else None


def _chip_name() -> str:
    if sys.platform == "darwin":
        brand = _run(["sysctl", "-n", "machdep.cpu.brand_string"])
        if brand:
            return brand
    if sys.platform.startswith("linux"):
        try:
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
        except OSError:
            pass
    return platform.processor() or platform.machine() or "unknown"


def _run(command: list[str]) -> str | None:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=5, check=True).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


# --- memory -----------------------------------------------------------------


def memory_snapshot(phase: str, process: psutil.Process | None = None) -> dict:
    """One ``memory_snapshots`` entry: the process's RSS plus what the system says about free,
    wired (macOS only) and swap memory."""
    process = process or psutil.Process()
    virtual = psutil.virtual_memory()
    snapshot = {
        "phase": phase,
        "rss_gb": round(process.memory_info().rss / GB, 4),
        "free_gb": round(virtual.available / GB, 3),
        "swap_mb": round(psutil.swap_memory().used / MB, 1),
    }
    wired = getattr(virtual, "wired", None)  # psutil reports wired memory on macOS and BSD only
    if wired is not None:
        snapshot["wired_gb"] = round(wired / GB, 3)
    return snapshot


def mlx_peak_memory_gb() -> float | None:
    """mlx's allocator peak (Metal memory on Apple Silicon), only if mlx is already imported."""
    mx = sys.modules.get("mlx.core")
    if mx is None:
        return None
    return round(mx.get_peak_memory() / GB, 4)


@dataclass
class RssSampler:
    """Samples a process's RSS in a background thread; ``peak_mb`` is the highest value seen."""

    interval_s: float = 0.01
    process: psutil.Process | None = None
    peak_mb: float = 0.0

    def __enter__(self) -> RssSampler:
        self.process = self.process or psutil.Process()
        self._stop = threading.Event()
        self._sample()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._sample()

    def _sample(self) -> None:
        try:
            self.peak_mb = max(self.peak_mb, self.process.memory_info().rss / MB)
        except psutil.Error:
            pass
