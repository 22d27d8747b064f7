"""How the suite measures: interleaved rounds of every case, and the peak memory of one call.

The machines it runs on are shared and noisy, so every case is warmed up and then the cases
run *interleaved*, one after another in a rotating order, for a number of rounds; a case's
time is then one value per round, which :mod:`catsmt.bench.result` turns into medians and
paired ratios.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import resource
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch


def sync(device: torch.device) -> None:
    """Wait for the device's queued work (a no-op on a CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def quartiles(values: Sequence[float]) -> tuple[float, float]:
    """The first and third quartiles of ``values`` (the value itself, for one)."""
    if len(values) < 2:
        return (values[0], values[0])
    q = statistics.quantiles(values, n=4, method="inclusive")
    return (q[0], q[2])


@dataclass
class Timings:
    """Per-round seconds per call of one case: wall clock, and this process's CPU time."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


def interleaved(
    cases: dict[str, Callable[[], Any]], rounds: int, warmup: int, calls: dict[str, int], device: torch.device
) -> dict[str, Timings]:
    """Seconds per call of each case, one value per timed round.

    Every round runs every case (``calls[name]`` calls, timed together), starting each round
    one case further along the list, so that no case always follows the same other one.
    """
    names = list(cases)
    times = {n: Timings() for n in names}
    for r in range(warmup + rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            n = calls.get(name, 1)
            sync(device)
            t0, c0 = time.perf_counter(), time.process_time()
            for _ in range(n):
                cases[name]()
            sync(device)
            if r >= warmup:
                times[name].wall.append((time.perf_counter() - t0) / n)
                times[name].cpu.append((time.process_time() - c0) / n)
    return times


class PeakMemory:
    """Peak memory of one call, and the memory in use just before it.

    On CUDA: ``torch.cuda.max_memory_allocated`` after ``reset_peak_memory_stats`` (the caching
    allocator's tensors). On Linux CPUs: the resident set's high-water mark ``VmHWM``, reset
    through ``/proc/self/clear_refs`` after ``malloc_trim(0)`` hands freed heap back, so that
    the peak is this call's. Elsewhere: the rise of ``ru_maxrss`` (zero when the call stays
    below an earlier peak of the process; a lower bound).
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self._trim: Callable[[int], int] | None = None
        if device.type == "cuda":
            self.method = "torch.cuda.max_memory_allocated (tensors of the caching allocator); delta = peak - memory_allocated before the call"
            return
        with contextlib.suppress(OSError, AttributeError):
            self._trim = ctypes.CDLL("libc.so.6").malloc_trim
        if self._can_reset_hwm():
            self.method = ("process resident set: VmHWM after resetting it via /proc/self/clear_refs "
                           "(after gc and malloc_trim); delta = VmHWM - VmRSS before the call")
        else:
            self.method = "resource.getrusage ru_maxrss rise during the call (0 when below an earlier process peak)"

    @staticmethod
    def _status_kb(key: str) -> int:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        raise OSError(f"no {key} in /proc/self/status")

    def _can_reset_hwm(self) -> bool:
        try:
            self._reset_hwm()
            return self._status_kb("VmHWM") > 0
        except OSError:
            return False

    @staticmethod
    def _reset_hwm() -> None:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")

    def measure(self, fn: Callable[[], Any]) -> tuple[float, float]:
        """``(peak MB, peak - before MB)`` of one call of ``fn``."""
        mb = 1024.0 * 1024.0
        gc.collect(1)  # the young generations: a full collection takes longer than a small case
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            before = torch.cuda.memory_allocated(self.device)
            fn()
            torch.cuda.synchronize(self.device)
            peak = torch.cuda.max_memory_allocated(self.device)
            return peak / mb, (peak - before) / mb
        if self._trim is not None:
            self._trim(0)
        if self.method.startswith("process resident set"):
            self._reset_hwm()
            before_kb = self._status_kb("VmRSS")
            fn()
            peak_kb = self._status_kb("VmHWM")
            return peak_kb / 1024.0, (peak_kb - before_kb) / 1024.0
        before_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        fn()
        peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak_kb / 1024.0, (peak_kb - before_kb) / 1024.0
