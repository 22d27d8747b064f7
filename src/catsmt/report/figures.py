"""Figures of a comparison: validation loss per language (the paper's Figure 4), the
trajectories of whatever each method logs per language (its weights) and of its sampling
distribution, the Pareto view, and CATS's multipliers."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from catsmt.evaluation.scores import group_averages
from catsmt.run.metrics import read_metrics


def _title(ax: Any, text: str, chars: int) -> None:
    """A title wrapped at ``chars`` characters, so that a long method label stays inside the
    figure (a centred one-line title wider than the figure is cut at both ends)."""
    ax.set_title(textwrap.fill(text, chars))


def _save(fig: Figure, path: Path) -> Path:
    """Write ``fig`` to ``path`` (folders made as needed) at the report's resolution."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    return path


def _grid(n: int) -> tuple[int, int]:
    cols = min(4, n)
    return math.ceil(n / cols), cols


def method_styles(n: int) -> list[dict[str, Any]]:
    """``n`` distinct (colour, line style) pairs: matplotlib's ten colours while they suffice,
    else tab20's twenty, each round of colours with the next line style."""
    from matplotlib import colormaps

    colors: list[Any] = [f"C{i}" for i in range(10)] if n <= 10 else [colormaps["tab20"](i) for i in range(20)]
    dashes = ["-", "--", ":", "-."]
    return [{"color": colors[i % len(colors)], "linestyle": dashes[(i // len(colors)) % len(dashes)]} for i in range(n)]


def valid_loss_plot(records: Sequence[Any], label: Callable[[str], str]) -> Figure:
    """One panel per language: validation NLL over updates, one line per method (first seed),
    each method in its own colour and line style, the legend beside the panels (never over
    a curve)."""
    first: dict[str, Any] = {}
    for r in records:
        first.setdefault(r.method, r)
    langs = list(records[0].scores["langs"])
    groups = {lang: records[0].scores["langs"][lang]["group"] for lang in langs}
    langs = [lang for g in ("low", "mid", "high") for lang in langs if groups[lang] == g]
    rows, cols = _grid(len(langs))
    fig = Figure(figsize=(3.2 * cols + 2.8, 2.6 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    curves: dict[str, dict[str, list[tuple[int, float]]]] = {}
    for method, r in first.items():
        for e in read_metrics(r.run_dir / "metrics.jsonl"):
            if e.get("event") == "valid" and e.get("lang") in groups:
                curves.setdefault(method, {}).setdefault(e["lang"], []).append((e["step"], e["nll"]))
    styles = dict(zip(curves, method_styles(len(curves)), strict=True))
    for i, lang in enumerate(langs):
        ax = axes[i // cols][i % cols]
        for method, per_lang in curves.items():
            pts = sorted(per_lang.get(lang, []))
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", markersize=2.5,
                        label=label(method), **styles[method])
        ax.set_title(f"{lang} ({groups[lang]})")
        ax.set_xlabel("update")
        ax.set_ylabel("valid NLL")
    for j in range(len(langs), rows * cols):
        axes[j // cols][j % cols].axis("off")
    handles: dict[str, Any] = {}
    for ax in fig.axes:  # every method once, even one that logged no point for the first language
        for handle, name in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(name, handle)
    fig.legend(list(handles.values()), list(handles), loc="outside right upper", fontsize="small")
    return fig


def valid_loss_figure(records: Sequence[Any], path: Path, label: Callable[[str], str]) -> Path:
    """:func:`valid_loss_plot`, saved to ``path``."""
    return _save(valid_loss_plot(records, label), path)


#: The name of the sampling distribution among :func:`weight_series`'s families.
SAMPLING = "sampling"


def weight_series(record: Any) -> dict[str, dict[str, list[tuple[int, float]]]]:
    """Everything a run logged per language, over updates: family -> language -> points.

    A family is a name ``F`` such that the method logged ``F/<lang>`` for languages of the run
    (``alpha`` for CATS, ``famo_z`` for FAMO, ``dro_q`` for DRO, ``psi`` and ``reward`` for
    MultiDDS, ...) in the ``weights`` of its ``train`` events; the sampling distribution the
    loop logged is the family :data:`SAMPLING`. Values that are not per language
    (``cats/lambda_c``) are left out. Nothing here knows a method's name.
    """
    langs = set(record.scores["langs"])
    series: dict[str, dict[str, list[tuple[int, float]]]] = {}
    for e in read_metrics(record.run_dir / "metrics.jsonl"):
        if e.get("event") != "train" or e.get("lang") != "all":
            continue
        for name, v in e.get("weights", {}).items():
            family, _, lang = name.rpartition("/")
            if family and lang in langs:
                series.setdefault(family, {}).setdefault(lang, []).append((e["step"], float(v)))
        for lang, v in e.get(SAMPLING, {}).items():
            if lang in langs:
                series.setdefault(SAMPLING, {}).setdefault(lang, []).append((e["step"], float(v)))
    return series


def _moving(families: dict[str, dict[str, list[tuple[int, float]]]]) -> dict[str, dict[str, list[tuple[int, float]]]]:
    """The families whose values change over the run, each shown once (MultiDDS logs its
    sampling distribution as ``psi`` too; DRO's ``dro_q`` is the sampling distribution when it
    resamples)."""
    out: dict[str, dict[str, list[tuple[int, float]]]] = {}
    seen = []
    for family, per_lang in families.items():
        if all(len({round(v, 9) for _, v in pts}) <= 1 for pts in per_lang.values()):
            continue  # static: nothing to show
        key = sorted((lang, [(s, round(v, 9)) for s, v in pts]) for lang, pts in per_lang.items())
        if key in seen:
            continue
        seen.append(key)
        out[family] = per_lang
    return out


def weights_figure(record: Any, path: Path, label: Callable[[str], str]) -> Path | None:
    """One panel per family of :func:`weight_series` that changes over the run (the method's
    language weights, its sampling distribution), one line per language; None when nothing
    changes (temperature sampling, UniMax)."""
    families = _moving(weight_series(record))
    if not families:
        return None
    fig = Figure(figsize=(6, 3.2 * len(families)), layout="constrained")
    axes = fig.subplots(len(families), 1, squeeze=False)
    groups = {lang: s["group"] for lang, s in record.scores["langs"].items()}
    for ax, (family, per_lang) in zip((row[0] for row in axes), families.items(), strict=True):
        for lang, pts in sorted(per_lang.items()):
            style = "-" if groups.get(lang) == "low" else "--"
            ax.plot([p[0] for p in pts], [p[1] for p in pts], style, marker="o", markersize=2, label=lang)
        what = "sampling distribution" if family == SAMPLING else f"{family} per language"
        ax.set_xlabel("update")
        ax.set_ylabel("sampling probability" if family == SAMPLING else family)
        _title(ax, f"{label(record.method)}: {what} (solid: low-resource)", 50)
        ax.legend(fontsize="small", ncol=2)
    return _save(fig, path)


def group_means(scores: dict[str, Any], metric: str) -> dict[str, float]:
    """``all`` and per-group means of ``metric`` of one run, by :func:`group_averages`."""
    langs = scores["langs"]
    return group_averages({k: float(s[metric]) for k, s in langs.items()}, {k: s["group"] for k, s in langs.items()})


def pareto_figure(records: Sequence[Any], path: Path, label: Callable[[str], str], metric: str) -> Path:
    """Low- against high-resource mean of ``metric``: one small point per (method, seed), the
    method's mean over seeds as a large marker with ± one standard deviation."""
    fig = Figure(figsize=(7.6, 4.2), layout="constrained")
    ax = fig.subplots()
    by_method: dict[str, list[tuple[float, float]]] = {}
    for r in records:
        g = group_means(r.scores, metric)
        by_method.setdefault(r.method, []).append((g.get("low", float("nan")), g.get("high", float("nan"))))
    markers = "osD^vP*XhH<>"
    styles = method_styles(len(by_method))
    for i, (method, pts) in enumerate(by_method.items()):
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        line = ax.scatter(xs, ys, s=14, alpha=0.5, marker=markers[i % len(markers)], color=styles[i]["color"])
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        sx = (sum((x - mx) ** 2 for x in xs) / (len(xs) - 1)) ** 0.5 if len(xs) > 1 else 0.0
        sy = (sum((y - my) ** 2 for y in ys) / (len(ys) - 1)) ** 0.5 if len(ys) > 1 else 0.0
        ax.errorbar([mx], [my], xerr=[sx], yerr=[sy], fmt=markers[i % len(markers)], markersize=9,
                    color=line.get_facecolor()[0], markeredgecolor="black", capsize=3,
                    label=f"{label(method)} (n={len(pts)})")
    name = {"bleu": "BLEU", "chrf": "chrF"}.get(metric, metric)
    ax.set_xlabel(f"low-resource mean {name}")
    ax.set_ylabel(f"high-resource mean {name}")
    _title(ax, f"Pareto view, test {name} (large: mean ± sd over seeds)", 40)
    ax.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.02, 0.5))  # outside: never over a point
    return _save(fig, path)


def cats_multiplier_figure(record: Any, path: Path, label: Callable[[str], str]) -> Path | None:
    """λ_c and the curvature αᵀĜα of a CATS run over updates (from its logged weights)."""
    series: dict[str, list[tuple[int, float]]] = {}
    for e in read_metrics(record.run_dir / "metrics.jsonl"):
        if e.get("event") == "train" and e.get("lang") == "all":
            for key in ("cats/lambda_c", "cats/curvature"):
                if key in e.get("weights", {}):
                    series.setdefault(key, []).append((e["step"], float(e["weights"][key])))
    if "cats/lambda_c" not in series:
        return None
    fig = Figure(figsize=(6, 3.2), layout="constrained")
    ax = fig.subplots()
    for key, pts in series.items():
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", markersize=2, label=key.split("/", 1)[1])
    ax.set_xlabel("update")
    _title(ax, f"{label(record.method)}: λ_c and the batch curvature αᵀGα (normalised)", 50)
    ax.legend(fontsize="small")
    return _save(fig, path)


def write_figures(records: Sequence[Any], directory: Path, label: Callable[[str], str]) -> list[Path]:
    """All figures of a comparison; returns the PNG paths."""
    paths = [valid_loss_figure(records, directory / "valid_nll.png", label)]
    paths += [pareto_figure(records, directory / f"pareto_{m}.png", label, m) for m in ("chrf", "bleu")]
    seen = set()
    for r in records:
        if r.method in seen:
            continue
        seen.add(r.method)
        p = weights_figure(r, directory / f"weights_{r.method}.png", label)
        if p is not None:
            paths.append(p)
        q = cats_multiplier_figure(r, directory / f"multipliers_{r.method}.png", label)
        if q is not None:
            paths.append(q)
    return paths
