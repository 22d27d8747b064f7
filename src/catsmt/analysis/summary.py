"""Numbers behind the paper's optimisation figures, one row per run: what ``catsmt analyze``
writes as ``summary.md`` / ``summary.json`` beside the cross-run figures.

For each run, over an *early* and a *late* window of its measured steps (by default the first
quarter and the last half of them, rounded up):

- ``λ_max`` (Figure 2 top; the eigenvalue of largest magnitude, as the paper plots it, so it
  can be negative: the share of negative ones, and the median of |λ| over every language and
  step of the window, are reported too) and the per-language Fisher trace ``‖g_n‖²`` (the term of CATS's
  proxy ``‖Σ α_n g_n‖²``, Eq. 3), averaged over the low-resource, the high-resource and all
  languages at each step, then over the window's steps;
- the whole-model gradient cosine and magnitude similarity by resource pairing (HiHi, LoLo,
  HiLo; Figure 2 bottom), averaged over the window's steps;
- at the last step, the cosine by parameter group and pairing (Figures 3 and 5a);
- with ``selfsim`` events, the cosine between each language's gradients on two disjoint
  batches (``self cos``): the noise ceiling, what batch noise alone leaves of a cosine;
- Spearman's ρ between the Fisher trace and ``λ_max`` over every (step, language) point:
  whether the proxy CATS minimises ranks curvature as the top eigenvalue does.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

Events = Sequence[Mapping[str, Any]]
LEVELS = ("low", "high", "all")


def default_windows(steps: Sequence[int]) -> dict[str, tuple[int, int]]:
    """``early``: the first quarter of the measured steps, ``late``: the last half (rounded up).

    Raises:
        ValueError: no steps.
    """
    s = sorted(set(steps))
    if not s:
        raise ValueError("no measured steps to summarise")
    n = len(s)
    return {"early": (s[0], s[math.ceil(n / 4) - 1]), "late": (s[n - math.ceil(n / 2)], s[-1])}


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rank correlation (ties get their mean rank); NaN for fewer than 3 points or a
    constant input."""
    if len(x) != len(y):
        raise ValueError(f"{len(x)} x values but {len(y)} y values")
    if len(x) < 3:
        return math.nan
    rx, ry = _ranks(np.asarray(x, dtype=float)), _ranks(np.asarray(y, dtype=float))
    if rx.std() == 0 or ry.std() == 0:
        return math.nan
    return float(np.corrcoef(rx, ry)[0, 1])


def _ranks(v: np.ndarray) -> np.ndarray:
    order = np.argsort(v, kind="stable")
    ranks = np.empty(len(v))
    # every member of a run of equal values gets the run's mean (0-based) rank
    sorted_v = v[order]
    start = 0
    for k in range(1, len(v) + 1):
        if k == len(v) or sorted_v[k] != sorted_v[start]:
            ranks[order[start:k]] = (start + k - 1) / 2
            start = k
    return ranks


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if len(values) else math.nan


def level_means(events: Events, key: str, groups: Mapping[str, str]) -> dict[int, dict[str, float]]:
    """Step -> level (low, high, all) -> mean of ``key`` over that level's languages measured
    at the step (a level without one is left out)."""
    steps: dict[int, dict[str, list[float]]] = {}
    for e in events:
        if groups.get(e["lang"]) in ("low", "high"):
            per = steps.setdefault(e["step"], {level: [] for level in LEVELS})
            per[groups[e["lang"]]].append(float(e[key]))
            per["all"].append(float(e[key]))
    return {step: {level: _mean(v) for level, v in per.items() if v} for step, per in sorted(steps.items())}


def _by_level(events: Events, key: str, groups: Mapping[str, str], lo: int, hi: int) -> dict[str, float]:
    """Mean over the steps in [lo, hi] of the per-step mean of ``key`` over each level's languages."""
    per_step = [per for step, per in level_means(events, key, groups).items() if lo <= step <= hi]
    return {level: _mean([per[level] for per in per_step if level in per]) for level in LEVELS}


def summarize_run(events: Events, groups: Mapping[str, str],
                  windows: Mapping[str, tuple[int, int]] | None = None) -> dict[str, Any]:
    """The summary of one run's analysis events (``analysis/events.jsonl``).

    Args:
        events: curvature, grad_norm, gradsim and gradsim_pairing events.
        groups: language -> ``"low"`` or ``"high"``.
        windows: name -> inclusive (first, last) step; default :func:`default_windows` of the
            curvature (or else grad_norm) steps.

    Raises:
        ValueError: no curvature or grad_norm events.
    """
    curv = [e for e in events if e.get("event") == "curvature"]
    norms = [e for e in events if e.get("event") == "grad_norm"]
    selfs = [e for e in events if e.get("event") == "gradsim_self"]
    pairs = [e for e in events if e.get("event") == "gradsim_pairing"]
    measured = curv or norms
    if not measured:
        raise ValueError("no curvature or grad_norm events: run `catsmt analyze` (or train with train.analysis_every)")
    windows = dict(windows) if windows else default_windows([e["step"] for e in measured])
    out: dict[str, Any] = {"windows": {k: list(v) for k, v in windows.items()}, "lambda_max": {}, "negative_share": {}, "abs_median": {},
                           "fisher_trace": {}, "cos": {}, "mag": {}, "self_cos": {}}
    for name, (lo, hi) in windows.items():
        if curv:
            out["lambda_max"][name] = _by_level(curv, "lambda_max", groups, lo, hi)
            values = [float(e["lambda_max"]) for e in curv if lo <= e["step"] <= hi]
            out["negative_share"][name] = _mean([v < 0 for v in values])  # power iteration: largest |λ|
            out["abs_median"][name] = float(np.median(np.abs(values))) if values else math.nan
        if norms:
            out["fisher_trace"][name] = _by_level(norms, "fisher_trace", groups, lo, hi)
        if selfs:
            out["self_cos"][name] = _by_level(selfs, "cos", groups, lo, hi)
        whole = [e for e in pairs if e["group"] == "all" and lo <= e["step"] <= hi]
        for metric in ("cos", "mag"):
            by_pairing: dict[str, list[float]] = {}
            for e in whole:
                by_pairing.setdefault(e["pairing"], []).append(float(e[f"{metric}_mean"]))
            out[metric][name] = {p: _mean(v) for p, v in by_pairing.items()}
    if pairs:
        last = max(e["step"] for e in pairs)
        out["last_step"] = last
        out["cos_by_group"] = {}
        for e in pairs:
            if e["step"] == last:
                out["cos_by_group"].setdefault(e["pairing"], {})[e["group"]] = float(e["cos_mean"])
    trace = {(e["step"], e["lang"]): float(e["fisher_trace"]) for e in norms}
    points = [(trace[(e["step"], e["lang"])], float(e["lambda_max"])) for e in curv if (e["step"], e["lang"]) in trace]
    out["spearman_fisher_lambda"] = spearman([p[0] for p in points], [p[1] for p in points])
    out["points"] = len(points)
    return out


def _fmt(v: float | None, digits: int = 3) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def write_summary(summaries: Mapping[str, Mapping[str, Any]], out: Path) -> list[Path]:
    """``summary.json`` and ``summary.md`` (tables, one row per run) in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summaries, indent=2, allow_nan=True) + "\n", encoding="utf-8")
    lines = ["# Optimisation analysis by run", ""]
    first = next(iter(summaries.values()), None)
    if first is not None:
        lines += ["Windows (inclusive steps): " + ", ".join(f"{k} {a}-{b}" for k, (a, b) in first["windows"].items()), ""]
    names = list(first["windows"]) if first else []
    head = ["run"]
    for w in names:
        head += [f"λ_max Lo {w}", f"λ_max Hi {w}", f"‖g‖² Lo {w}", f"‖g‖² Hi {w}"]
    for w in names:
        head += [f"cos HiHi {w}", f"cos LoLo {w}", f"cos HiLo {w}"]
    head += [f"self cos {w}" for w in names]
    head += [f"λ<0 {w}" for w in names] + [f"median |λ| {w}" for w in names] + ["ρ(‖g‖², λ_max)"]
    lines += ["| " + " | ".join(head) + " |", "|" + "|".join([":--"] + ["--:"] * (len(head) - 1)) + "|"]
    for label, s in summaries.items():
        row = [label]
        for w in names:
            lam, fis = s["lambda_max"].get(w, {}), s["fisher_trace"].get(w, {})
            row += [_fmt(lam.get("low")), _fmt(lam.get("high")), _fmt(fis.get("low"), 4), _fmt(fis.get("high"), 4)]
        for w in names:
            cos = s["cos"].get(w, {})
            row += [_fmt(cos.get("HiHi")), _fmt(cos.get("LoLo")), _fmt(cos.get("HiLo"))]
        row += [_fmt(s["self_cos"].get(w, {}).get("all")) for w in names]
        row += [_fmt(s["negative_share"].get(w), 2) for w in names]
        row += [_fmt(s["abs_median"].get(w)) for w in names]
        row.append(_fmt(s["spearman_fisher_lambda"], 2))
        lines.append("| " + " | ".join(row) + " |")
    by_group = {label: s["cos_by_group"] for label, s in summaries.items() if s.get("cos_by_group")}
    if by_group:
        groups = list(dict.fromkeys(g for table in by_group.values() for per in table.values() for g in per))
        lines += ["", "Gradient cosine by parameter group at each run's last measured step:", "",
                  "| run | pairing | " + " | ".join(groups) + " |", "|:--|:--|" + "--:|" * len(groups)]
        for label, table in by_group.items():
            for pairing_name, per in table.items():
                lines.append(f"| {label} | {pairing_name} | " + " | ".join(_fmt(per.get(g)) for g in groups) + " |")
    (out / "summary.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [out / "summary.json", out / "summary.md"]
