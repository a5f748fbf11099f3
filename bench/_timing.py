"""Shared timing helpers of the benchmark scripts: medians of repeated runs, ratio lines."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable


def median_seconds(run: Callable[[], object], repeat: int = 5, warmup: int = 1) -> float:
    """Median wall time of `repeat` calls after `warmup` untimed ones."""
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def paired_median_seconds(
    ours: Callable[[], object], baseline: Callable[[], object], repeat: int = 5, warmup: int = 1
) -> tuple[float, float]:
    """Medians of `ours` and `baseline`, run alternately so both see the same machine load."""
    for _ in range(warmup):
        ours()
        baseline()
    ours_times, baseline_times = [], []
    for _ in range(repeat):
        for run, times in ((ours, ours_times), (baseline, baseline_times)):
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
    return statistics.median(ours_times), statistics.median(baseline_times)


def report(label: str, ours: float, baseline: float, target: float | None = None) -> str:
    """One figure: ours, the baseline, the ratio, and whether the target is met."""
    ratio = ours / baseline if baseline else float("inf")
    verdict = ""
    if target is not None:
        verdict = f"  (target <= {target:g}x: {'met' if ratio <= target else 'MISSED'})"
    line = f"{label}: ours {ours * 1000:.1f} ms, baseline {baseline * 1000:.1f} ms, ratio {ratio:.2f}x{verdict}"
    print(line, flush=True)
    return line


def machine() -> str:
    """Cores and memory, for RESULTS.md."""
    memory = ""
    try:
        with open("/proc/meminfo") as meminfo:
            kib = int(meminfo.readline().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB memory"
    except OSError:
        pass
    return f"{os.cpu_count()} cores{memory}"
