"""PNG figures for the curvature and gradient-similarity analysis (Figures 2, 3 and 5a).

Figures are drawn with matplotlib's object API on an Agg canvas: nothing touches pyplot's
global state or the process-wide backend, so these functions are safe to call from a
training job or a test without a display.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from catsmt.analysis.gradsim import PAIRINGS, PairingRow

_LINESTYLES = ("-", "--", ":", "-.")
_MARKERS = ("o", "s", "^", "D", "v", "x")


def _save(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=120)
    return path


_LEGEND_INSIDE = 14  # most lines whose legend fits inside the axes


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def plot_curves(
    records: Sequence[Mapping[str, Any]],
    path: str | Path,
    *,
    x: str = "step",
    y: str = "lambda_max",
    hue: str | None = "lang",
    style: str | None = "method",
    title: str | None = None,
    ylabel: str | None = None,
) -> Path:
    """Line plot of ``y`` against ``x``, one colour per ``hue`` and one line style per ``style``.

    For ``λ_max`` per language and method over training (Figure 2, top) and for gradient
    cosine similarity over training (Figure 2, bottom). ``records`` may be the mixed events
    of a ``metrics.jsonl``: records without a finite numeric ``x`` and ``y`` are skipped.

    Args:
        records: dicts such as ``{"step": 100, "lang": "bel", "method": "cats", "lambda_max": 3.2}``.
        path: PNG file to write (parent folders are created).
        x, y: keys of the axes.
        hue: key whose values get distinct colours (None: one colour).
        style: key whose values get distinct line styles (None: one style).
        title, ylabel: labels; ``ylabel`` defaults to ``y``.

    Returns:
        ``path``.

    Raises:
        ValueError: no record has numeric ``x`` and ``y``.
    """
    lines: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for r in records:
        if not (_is_number(r.get(x)) and _is_number(r.get(y))):
            continue
        key = (str(r.get(hue, "")) if hue else "", str(r.get(style, "")) if style else "")
        lines.setdefault(key, []).append((float(r[x]), float(r[y])))
    if not lines:
        raise ValueError(f"no record has numeric '{x}' and '{y}' to plot")

    hues = sorted({h for h, _ in lines})
    styles = sorted({s for _, s in lines})
    crowded = len(lines) > _LEGEND_INSIDE  # the legend goes beside the axes, in columns
    columns = 1 + (len(lines) - 1) // 20
    fig = Figure(figsize=(6.4 + 2.4 * columns, 4.0) if crowded else (6.4, 4.0), layout="constrained")
    ax = fig.add_subplot()
    colors = [f"C{i % 10}" for i in range(len(hues))]
    for (h, s), points in sorted(lines.items()):
        points.sort()
        label = " / ".join(part for part in (h, s) if part) or y
        ax.plot(
            [p[0] for p in points],
            [p[1] for p in points],
            color=colors[hues.index(h)],
            linestyle=_LINESTYLES[styles.index(s) % len(_LINESTYLES)],
            marker=_MARKERS[styles.index(s) % len(_MARKERS)] if len(points) < 30 else None,
            markersize=3,
            label=label,
        )
    ax.set_xlabel(x)
    ax.set_ylabel(ylabel or y)
    if title:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if any(key != ("", "") for key in lines):
        if crowded:
            ax.legend(fontsize="x-small", frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0), ncols=columns)
        else:
            ax.legend(fontsize="small", frameon=False)
    return _save(fig, path)


def plot_similarity_heatmap(
    aggregated_rows: Sequence[PairingRow],
    path: str | Path,
    *,
    metric: str = "cos",
    title: str | None = None,
) -> Path:
    """Heat map of gradient similarity: parameter groups as columns, pairings as rows (Figure 3).

    Args:
        aggregated_rows: output of :func:`catsmt.analysis.gradsim.aggregate_by_pairing`.
        path: PNG file to write.
        metric: ``"cos"`` (direction, Figure 3 left; colour scale symmetric about 0) or
            ``"mag"`` (magnitude, Figure 3 right; scale ``[0, 1]``).
        title: defaults to the metric's name.

    Returns:
        ``path``.

    Raises:
        ValueError: an unknown metric or no rows.
    """
    if metric not in ("cos", "mag"):
        raise ValueError(f"metric must be 'cos' or 'mag', got '{metric}'")
    if not aggregated_rows:
        raise ValueError("no aggregated similarity rows to plot")
    groups = list(dict.fromkeys(r["group"] for r in aggregated_rows))
    present = {r["pairing"] for r in aggregated_rows}
    pairings = [p for p in PAIRINGS if p in present] + sorted(present - set(PAIRINGS))
    grid = [[math.nan] * len(groups) for _ in pairings]
    for r in aggregated_rows:
        grid[pairings.index(r["pairing"])][groups.index(r["group"])] = float(
            r["cos_mean"] if metric == "cos" else r["mag_mean"]
        )

    if metric == "cos":
        finite = [abs(v) for row in grid for v in row if math.isfinite(v)]
        vmax = max(max(finite, default=0.0), 1e-3)
        cmap, vmin, label = "RdBu_r", -vmax, "gradient direction similarity cos φ"
    else:
        cmap, vmin, vmax, label = "viridis", 0.0, 1.0, "gradient magnitude similarity γ"

    fig = Figure(figsize=(1.0 + 0.8 * len(groups), 1.2 + 0.5 * len(pairings)), layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(grid, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    ax.set_xticks(range(len(groups)), groups)
    ax.set_yticks(range(len(pairings)), pairings)
    for i, row in enumerate(grid):
        for j, v in enumerate(row):
            if math.isfinite(v):
                red, green, blue, _ = image.to_rgba(np.array([v]))[0]
                dark = 0.299 * red + 0.587 * green + 0.114 * blue < 0.5  # perceived luminance
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize="small",
                        color="white" if dark else "black")
    fig.colorbar(image, ax=ax, label=metric)
    ax.set_title(title or label, fontsize="medium")
    return _save(fig, path)
