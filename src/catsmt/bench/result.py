"""What a run of the suite gives: rows of medians and paired ratios, the targets they are
checked against, the environment they were measured in, and the table they print as."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import math
import os
import platform
import statistics
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from catsmt import __version__
from catsmt.bench.config import BenchConfig
from catsmt.bench.measure import Timings, quartiles

AMORTISED_M = (10, 100, 1000)

#: The targets of the issue that asked for this suite, checked in the table:
#: row -> (column, lowest allowed, highest allowed); None = no bound. A target whose row
#: was not measured (``--methods`` without cats) is left out.
TARGETS: dict[str, tuple[str, float | None, float | None]] = {
    "cats": ("ratio", 0.99, 1.01),  # a step between meta updates costs what plain training costs
    "cats_meta": ("ratio", None, 1.3),
    "cats_m10": ("throughput_ratio", 0.97, None),
}


@dataclass
class Row:
    """One line of the result table.

    Attributes:
        name: short id (``plain``, ``cats_meta``, ``cats_m10``, ``greedy``, ...).
        label: what was measured, in words.
        group: ``data``, ``train``, ``amortised``, ``curvature`` or ``decode``.
        seconds: median seconds per call (per step for the amortised rows).
        seconds_q: interquartile range of the per-round seconds.
        ratio: time relative to the plain step (median of paired per-round ratios).
        ratio_q: interquartile range of those ratios.
        throughput_ratio: plain step time / this time (``1 / ratio``).
        cpu_seconds, cpu_ratio, cpu_ratio_q: the same from this process's CPU time
            (``time.process_time``), which other jobs on a shared CPU disturb far less than
            the wall clock; meaningless for a GPU, whose work it does not count.
        tokens_per_s: target tokens per second (training: the batch's target tokens).
        peak_mb: peak memory while the call ran (see ``memory_method``).
        peak_delta_mb: that peak minus the memory in use just before the call.
        extra: anything else (decoding: output/source length ratio, sentences).
    """

    name: str
    label: str
    group: str
    seconds: float
    seconds_q: tuple[float, float] | None = None
    ratio: float | None = None
    ratio_q: tuple[float, float] | None = None
    throughput_ratio: float | None = None
    cpu_seconds: float | None = None
    cpu_ratio: float | None = None
    cpu_ratio_q: tuple[float, float] | None = None
    tokens_per_s: float | None = None
    peak_mb: float | None = None
    peak_delta_mb: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class BenchResult:
    """A run of the suite.

    Attributes:
        config: what was asked for.
        environment: :func:`describe_environment`.
        memory_method: how ``peak_mb`` was measured.
        rows: in the order measured (data, training steps, curvature, decoding).
        budget: the run's budget the weighting methods were told (``RunBudget`` as a dict).
        skipped: method -> why it was not timed (an optional dependency not installed).
    """

    config: BenchConfig
    environment: dict[str, Any]
    memory_method: str
    rows: list[Row]
    budget: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    def row(self, name: str) -> Row:
        """The row called ``name``.

        Raises:
            KeyError: naming the rows there are.
        """
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(f"no row '{name}'; rows: {', '.join(r.name for r in self.rows)}")

    def targets(self) -> list[dict[str, Any]]:
        """The issue's targets (:data:`TARGETS`) against this result, for the rows measured."""
        out = []
        names = {r.name for r in self.rows}
        for name, (column, low, high) in TARGETS.items():
            if name not in names:
                continue
            row = self.row(name)
            value = getattr(row, column)
            cpu = row.cpu_ratio if column == "ratio" else None if not row.cpu_ratio else 1.0 / row.cpu_ratio
            out.append({
                "row": name, "column": column, "low": low, "high": high,
                "value": value, "met": _within(value, low, high),
                "cpu_time_value": cpu, "cpu_time_met": _within(cpu, low, high),
            })
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON (``catsmt bench --out``)."""
        return {
            "catsmt_bench": 1,
            "config": dataclasses.asdict(self.config),
            "environment": self.environment,
            "memory_method": self.memory_method,
            "budget": self.budget,
            "skipped": self.skipped,
            "rows": [dataclasses.asdict(r) for r in self.rows],
            "targets": self.targets(),
        }


def _within(value: float | None, low: float | None, high: float | None) -> bool:
    return value is not None and (low is None or value >= low) and (high is None or value <= high)


def timed_row(
    name: str, label: str, group: str, t: Timings, plain: Timings | None,
    peak: tuple[float, float], extra: dict[str, Any],
) -> Row:
    """A row from per-round timings; ratios are paired with ``plain``'s rounds."""
    row = Row(
        name=name, label=label, group=group, seconds=statistics.median(t.wall), seconds_q=quartiles(t.wall),
        cpu_seconds=statistics.median(t.cpu), peak_mb=peak[0], peak_delta_mb=peak[1], extra=extra,
    )
    if plain is not None:
        ratios = [a / b for a, b in zip(t.wall, plain.wall, strict=True)]
        cpu_ratios = [a / b for a, b in zip(t.cpu, plain.cpu, strict=True) if b > 0]
        row.ratio, row.ratio_q = statistics.median(ratios), quartiles(ratios)
        row.throughput_ratio = 1.0 / row.ratio
        if cpu_ratios:
            row.cpu_ratio, row.cpu_ratio_q = statistics.median(cpu_ratios), quartiles(cpu_ratios)
    return row


def amortised_rows(rows: list[Row], name: str, label: str) -> list[Row]:
    """A method timed between its updates (row ``name``) and on them (row ``name_meta``),
    amortised over an update interval m: ``(t_meta + (m - 1) t_between) / m`` from the medians
    (seconds), and the same combination of the two median ratios to plain (rows
    ``name_m10``, ...). Nothing when either row is missing."""
    by_name = {r.name: r for r in rows}
    if name not in by_name or f"{name}_meta" not in by_name:
        return []
    plain, meta, between = by_name["plain"], by_name[f"{name}_meta"], by_name[name]
    out = []
    for m in AMORTISED_M:
        row = Row(
            name=f"{name}_m{m}", label=f"{label} amortised, m={m}", group="amortised",
            seconds=(meta.seconds + (m - 1) * between.seconds) / m,
            cpu_seconds=(_num(meta.cpu_seconds) + (m - 1) * _num(between.cpu_seconds)) / m,
            extra={"formula": "(t_meta + (m-1) * t_between) / m, of the medians"},
        )
        row.ratio = (_num(meta.ratio) + (m - 1) * _num(between.ratio)) / m
        row.throughput_ratio = 1.0 / row.ratio
        if meta.cpu_ratio is not None and between.cpu_ratio is not None:
            row.cpu_ratio = (meta.cpu_ratio + (m - 1) * between.cpu_ratio) / m
        row.tokens_per_s = None if plain.tokens_per_s is None else plain.tokens_per_s * row.throughput_ratio
        out.append(row)
    return out


def _num(x: float | None) -> float:
    return math.nan if x is None else x


# -- environment and output ----------------------------------------------------------------


def _cpu_name() -> str:
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], capture_output=True, text=True, timeout=10,
                             cwd=Path(__file__).resolve().parent)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def describe_environment(device: torch.device, command: str = "") -> dict[str, Any]:
    """Device name, library versions, the catsmt commit and the command line of a result."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        name = f"{_cpu_name()} ({os.cpu_count()} logical CPUs, torch threads {torch.get_num_threads()})"
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "device": str(device),
        "device_name": name,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "python": platform.python_version(),
        "catsmt": __version__,
        "commit": _git("rev-parse", "HEAD"),
        "uncommitted_changes": None if status is None else bool(status),
        "command": command,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "loadavg_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }


def _fmt(value: float | None, spec: str) -> str:
    return "" if value is None else format(value, spec)


def format_table(result: BenchResult) -> str:
    """The result as a text table, environment first and the targets last."""
    env = result.environment
    cfg = result.config
    on_cpu = env["device"] == "cpu"
    lines = [
        f"catsmt bench  {env['device_name']}  torch {env['torch']}  commit {(env['commit'] or '?')[:12]}"
        + (" (+ uncommitted changes)" if env.get("uncommitted_changes") else ""),
        f"preset {cfg.preset}, vocab {cfg.vocab}, max_tokens {cfg.max_tokens}, K={cfg.langs_per_batch}, "
        f"N={cfg.n_langs}, {cfg.precision}, {cfg.repeats} rounds x {cfg.steps} call(s) after {cfg.warmup} warm-up",
        "ratios: time / plain step time, median of per-round ratios [interquartile range]"
        + ("; 'cpu' = the same from process CPU time" if on_cpu else ""),
        "",
        f"{'case':38s} {'median':>10s} {'vs plain':>9s} {'IQR':>13s} {'thru/plain':>10s}"
        + (f" {'cpu vs plain':>12s}" if on_cpu else "")
        + f" {'tok/s':>9s} {'peak MB':>8s} {'+MB':>7s}",
    ]
    for r in result.rows:
        iqr = f"{r.ratio_q[0]:.3f}-{r.ratio_q[1]:.3f}" if r.ratio_q else ""
        line = (f"{r.label:38s} {r.seconds * 1e3:8.1f}ms {_fmt(r.ratio, '9.3f'):>9s} {iqr:>13s} "
                f"{_fmt(r.throughput_ratio, '10.3f'):>10s}")
        if on_cpu:
            line += f" {_fmt(r.cpu_ratio, '12.3f'):>12s}"
        line += f" {_fmt(r.tokens_per_s, '9.0f'):>9s} {_fmt(r.peak_mb, '8.0f'):>8s} {_fmt(r.peak_delta_mb, '7.0f'):>7s}"
        if r.group == "decode":
            line += f"  out/src length {r.extra['length_ratio']:.2f}"
        lines.append(line)
    lines += [f"skipped: {name} ({why})" for name, why in result.skipped.items()]
    lines += ["", f"memory: {result.memory_method}", "targets:"]
    for t in result.targets():
        high, low = t["high"], t["low"]
        bound = f">= {low}" if high is None else f"<= {high}" if low is None else f"in [{low}, {high}]"
        line = f"  {t['row']:10s} {t['column']:16s} {_fmt(t['value'], '.3f'):>6s} {bound:14s} {'met' if t['met'] else 'NOT MET':8s}"
        if on_cpu:
            line += f" (cpu time: {_fmt(t['cpu_time_value'], '.3f')}, {'met' if t['cpu_time_met'] else 'NOT MET'})"
        lines.append(line)
    return "\n".join(lines)
