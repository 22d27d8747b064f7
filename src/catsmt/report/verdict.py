"""A short verdict from a comparison's numbers: is the temperature trade-off developed, and
where does CATS stand against the Pareto front of the static temperatures?

Everything here is computed from the per-run test scores; nothing is assumed about which
method should win.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from catsmt.report.methods import is_proposed, static_temperature

DEVELOPED_SDS = 3.0
"""A trade-off counts as developed when T=∞ − T=1 moves the two groups in opposite directions,
each by more than this many seed sds (the bar of the CPU benchmark's issue)."""


@dataclass(frozen=True)
class GroupStats:
    """Mean and sample sd over seeds of a method's low- and high-resource averages."""

    low: float
    high: float
    low_sd: float
    high_sd: float
    n: int


def group_stats(records: Sequence[Any], metric: str) -> dict[str, GroupStats]:
    """Per method: mean ± sd over seeds of the low- and high-resource means of ``metric``."""
    from catsmt.report.figures import group_means

    per: dict[str, list[tuple[float, float]]] = {}
    for r in records:
        g = group_means(r.scores, metric)
        per.setdefault(r.method, []).append((g.get("low", float("nan")), g.get("high", float("nan"))))
    out = {}
    for method, pts in per.items():
        lows, highs = [p[0] for p in pts], [p[1] for p in pts]
        out[method] = GroupStats(
            statistics.fmean(lows), statistics.fmean(highs),
            statistics.stdev(lows) if len(lows) > 1 else 0.0,
            statistics.stdev(highs) if len(highs) > 1 else 0.0, len(pts),
        )
    return out


def separation(a: GroupStats, b: GroupStats, group: str) -> float:
    """|mean difference| of ``group`` in units of the larger of the two seed sds (inf when
    both sds are 0, i.e. one seed each)."""
    diff = abs(getattr(a, group) - getattr(b, group))
    sd = max(getattr(a, f"{group}_sd"), getattr(b, f"{group}_sd"))
    return diff / sd if sd > 0 else float("inf")


def verdict(records: Sequence[Any], metric: str = "chrf", label: Any = str) -> list[str]:
    """Sentences on the trade-off (T=1 against T=∞) and on CATS against the temperatures."""
    stats = group_stats(records, metric)
    name = {"bleu": "BLEU", "chrf": "chrF"}.get(metric, metric)
    lines = []
    if "t1" in stats and "tinf" in stats:
        t1, ti = stats["t1"], stats["tinf"]
        d_lo, d_hi = ti.low - t1.low, ti.high - t1.high
        opposite = d_lo * d_hi < 0
        seeds = min(t1.n, ti.n)
        sds = {g: separation(t1, ti, g) for g in ("low", "high")}
        spread = (
            f" ({sds['low']:.1f} and {sds['high']:.1f} seed sds apart, {seeds} seeds)"
            if seeds > 1 else " (one seed: no spread to compare with)"
        )
        short = [g for g, n in sds.items() if n <= DEVELOPED_SDS] if seeds > 1 else []
        if not opposite:
            reading = "no trade-off: both move the same way"
        elif short:
            sides = " and ".join(f"{g}-resource" for g in short)
            reading = f"opposite directions, but within {DEVELOPED_SDS:g} seed sds on the {sides} side{'s' * (len(short) > 1)}"
        else:
            reading = "the trade-off shows"
        lines.append(
            f"T=∞ against T=1: low-resource {name} {d_lo:+.2f}, high-resource {d_hi:+.2f} -- {reading}{spread}."
        )
    # The front: every static temperature that ran (t1, t5, tinf, temperature+temperature=2, ...).
    temps = {m: s for m, s in stats.items() if static_temperature(m) is not None}

    cats_variants = [m for m in stats if is_proposed(m)] if temps else []
    for method in cats_variants:
        c = stats[method]
        best_lo = max(temps, key=lambda m: temps[m].low)
        best_hi = max(temps, key=lambda m: temps[m].high)
        gap_lo, gap_hi = c.low - temps[best_lo].low, c.high - temps[best_hi].high
        dominated = [m for m, s in temps.items() if s.low >= c.low and s.high >= c.high]
        if gap_lo >= 0 and gap_hi >= 0:
            where = "on or beyond the Pareto front of the temperatures (at least the best of each)"
        elif dominated:
            where = "behind the front: dominated by " + ", ".join(label(m) for m in dominated)
        else:
            where = "on the front between the temperatures, but not beyond the best of each"
        lines.append(
            f"{label(method)}: low {c.low:.2f} ({gap_lo:+.2f} against the best temperature, {label(best_lo)}), "
            f"high {c.high:.2f} ({gap_hi:+.2f} against {label(best_hi)}): {where}."
        )
    return lines
