"""A suite's ``memory_snapshots`` from the memory windows of its items (``records.ProcessContext``).

Per process (the pytest process that ran the tests; the managed server, whose phases are
prefixed ``server_``; or, for a server across ranks, each local rank, prefixed ``rank0_``,
``rank1_``...): the first item's ``start``, the named phases in between (e.g.
``model_loaded``), the last item's ``end`` and the ``peak`` RSS sampled while the suite's items
ran. Units follow upstream's tools and macOS's Activity Monitor: binary (GiB/MiB).
"""

from __future__ import annotations

MIB_PER_GIB = 1024
UNITS_NOTE = ("memory: rss_gb, free_gb and wired_gb are GiB (2^30 bytes), swap_mb and peak_rss_mb MiB (2^20 "
              "bytes); free_gb is the memory available to processes without swapping (psutil 'available'), "
              "not the kernel's 'free'")
SERVER_NOTE = "memory: phases prefixed server_ are the managed mlx_lm.server process; the others the pytest process"
RANKS_NOTE = ("memory: phases prefixed rank0_, rank1_... are the local ranks of the managed mlx_lm.server (rank 0 "
              "serves HTTP; ranks on other hosts are not measured); the others the pytest process")


def suite_snapshots(windows: list[dict]) -> tuple[list[dict], list[str]]:
    """(memory_snapshots, notes) of one suite."""
    if not windows:
        return [], []
    ordered = sorted(windows, key=lambda window: window.get("t0", 0.0))
    snapshots = []
    for process in _processes(ordered):
        snapshots += _process_snapshots(ordered, process, "" if process == "pytest" else f"{process}_")
    notes = [UNITS_NOTE]
    if any(snapshot["phase"].startswith("server_") for snapshot in snapshots):
        notes.append(SERVER_NOTE)
    if any(snapshot["phase"].startswith("rank") for snapshot in snapshots):
        notes.append(RANKS_NOTE)
    mlx_peaks = [window["mlx_peak_gb"] for window in ordered if window.get("mlx_peak_gb") is not None]
    if mlx_peaks:
        notes.append(f"memory: MLX allocator peak {max(mlx_peaks):.4f} GiB (mx.get_peak_memory(): Metal memory on "
                     "Apple Silicon; not process RSS, so not a snapshot)")
    return snapshots, notes


def _processes(windows: list[dict]) -> list[str]:
    """pytest first, then the server or its ranks in rank order."""
    names = {name for window in windows for name in (*window.get("start", {}), *window.get("end", {}))}
    names |= {name for window in windows for phase in window.get("phases", ()) for name in phase}
    names.discard("pytest")
    return ["pytest", *sorted(names, key=lambda name: (len(name), name))]


def _process_snapshots(windows: list[dict], process: str, prefix: str) -> list[dict]:
    starts = [window["start"][process] for window in windows if process in window.get("start", {})]
    ends = [window["end"][process] for window in windows if process in window.get("end", {})]
    phases = [phase[process] for window in windows for phase in window.get("phases", ()) if process in phase]
    readings = [*starts, *phases, *ends]
    if not readings:
        return []
    sampled = [window["peak_mb"][process] / MIB_PER_GIB for window in windows
               if process in window.get("peak_mb", {})]
    peak = {"phase": "peak", "rss_gb": round(max([*sampled, *(reading["rss_gb"] for reading in readings)]), 4)}
    chosen = [*starts[:1], *phases, *ends[-1:], peak]
    return [{**snapshot, "phase": prefix + snapshot["phase"]} for snapshot in chosen]
