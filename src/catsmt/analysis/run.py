"""``catsmt analyze RUN``: curvature and gradient similarity over a run's saved checkpoints.

Every checkpoint in ``RUN/checkpoints`` (step files, ``best`` and ``last``, one per step)
is measured on the same fixed per-language batches, of validation or training data
(:mod:`catsmt.analysis.tracking`). Measurements logged during training
(``train.analysis_every``) on the same split fill in every (kind, step) not measured here.
Outputs go to ``RUN/analysis/``:

- ``events.jsonl`` -- every measurement;
- ``curvature.csv`` (step, lang, lambda_max), ``gradsim.csv`` (step, pair, group, cos, mag)
  and ``pairing.csv`` (step, pairing, group, cos_mean, mag_mean);
- ``lambda_max.png`` (Figure 2 top), ``cosine.png`` (Figure 2 bottom: cosine by pairing
  over training), ``similarity_heatmap.png`` (Figure 3: groups x pairings, last step).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from catsmt.analysis.plots import plot_curves, plot_similarity_heatmap
from catsmt.analysis.summary import level_means, summarize_run, write_summary
from catsmt.analysis.tracking import ANALYSES, PROBE_SPLITS, ProbeBatches, measure
from catsmt.run.checkpoint import load_checkpoint, step_checkpoints
from catsmt.run.inference import load_for_inference
from catsmt.run.metrics import read_metrics


def run_checkpoints(run: Path) -> list[tuple[int, Path]]:
    """``(step, path)`` of a run's checkpoints, one per step, oldest first.

    Raises:
        ValueError: the folder has no checkpoints.
    """
    found: dict[int, Path] = dict(step_checkpoints(run / "checkpoints"))
    for name in ("best.pt", "last.pt"):
        path = run / "checkpoints" / name
        if path.exists():
            found.setdefault(int(load_checkpoint(path)["step"]), path)
    if not found:
        raise ValueError(f"{run} has no checkpoints to analyse (is it a catsmt run folder?)")
    return sorted(found.items())


def _write_csv(path: Path, rows: Sequence[dict[str, Any]], fields: Sequence[str]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(fields), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def analyze_run(
    run: Path,
    what: Sequence[str] = ("curvature", "gradsim"),
    langs: Sequence[str] | None = None,
    device: str = "cpu",
    iters: int = 20,
    split: str = "valid",
) -> list[Path]:
    """Measure every checkpoint of ``run`` and write tables and figures; returns the files.

    ``split`` chooses the fixed batch per language (:class:`ProbeBatches`): ``valid`` or
    ``train``. Measurements logged during training on the same split are merged in.

    Raises:
        ValueError: unknown ``what`` or languages, or no checkpoints.
    """
    unknown = sorted(set(what) - set(ANALYSES))
    if unknown or not what:
        raise ValueError(f"--what takes {', '.join(ANALYSES)}, got {', '.join(unknown) or 'nothing'}")
    if split not in PROBE_SPLITS:
        raise ValueError(f"--split takes valid or train, got '{split}'")
    run = Path(run)
    out = run / "analysis"
    out.mkdir(parents=True, exist_ok=True)
    dev = torch.device(device)
    events: list[dict[str, Any]] = []
    probes = None
    for step, path in run_checkpoints(run):
        model, _, data = load_for_inference(path, device)
        chosen = list(langs) if langs else data.langs
        missing = sorted(set(chosen) - set(data.langs))
        if missing:
            raise ValueError(f"languages {', '.join(missing)} are not in this run; it has {', '.join(data.langs)}")
        if probes is None:
            probes = ProbeBatches.from_data(data, chosen, split=split, twins="selfsim" in what)
        events += measure(model, probes, data.groups, step, dev, what, iters)
    measured = {(e["event"], e["step"]) for e in events}  # tracked events fill in what was not measured
    for e in read_metrics(run / "metrics.jsonl"):  # tracked during training
        tracked = e.get("event") in ("curvature", "gradsim", "gradsim_pairing", "grad_norm", "gradsim_self")
        if tracked and e.get("split", "valid") == split and (e["event"], e["step"]) not in measured:
            events.append(e)
    for e in events:  # events tracked by older versions do not carry the language's level
        if "lang" in e and e.get("group") is None:
            e["group"] = data.groups.get(e["lang"])
    events.sort(key=lambda e: e["step"])
    with open(out / "events.jsonl", "w", encoding="utf-8") as f:
        for e in events:
            f.write(json.dumps(e) + "\n")
    files = [out / "events.jsonl"]
    curv = [e for e in events if e["event"] == "curvature"]
    sims = [e for e in events if e["event"] == "gradsim"]
    pairs = [e for e in events if e["event"] == "gradsim_pairing"]
    if curv:
        _write_csv(out / "curvature.csv", curv, ["step", "lang", "lambda_max", "converged", "iterations"])
        files += [out / "curvature.csv", plot_curves(curv, out / "lambda_max.png", y="lambda_max", hue="lang", style=None,
                                                     title="top Hessian eigenvalue per language", ylabel="λ_max")]
    if sims:
        _write_csv(out / "gradsim.csv", sims, ["step", "lang_a", "lang_b", "group", "cos", "mag"])
        files.append(out / "gradsim.csv")
    if pairs:
        _write_csv(out / "pairing.csv", pairs, ["step", "pairing", "group", "cos_mean", "cos_std", "mag_mean", "mag_std", "n"])
        whole = [e for e in pairs if e["group"] == "all"]
        files += [
            out / "pairing.csv",
            plot_curves(whole, out / "cosine.png", y="cos_mean", hue="pairing", style=None,
                        title="gradient direction similarity (whole model)", ylabel="cos"),
            plot_similarity_heatmap([e for e in pairs if e["step"] == pairs[-1]["step"]],  # type: ignore[misc]
                                    out / "similarity_heatmap.png", metric="cos"),
        ]
    return files


def compare_runs(runs: Sequence[Path], out: Path, labels: Sequence[str] | None = None) -> list[Path]:
    """Figures across runs (the paper's Figure 2): λ_max per language and the cosine between
    the first two languages' gradients over training, one line style per run; and
    ``summary.md`` / ``summary.json``, their numbers by run (:mod:`catsmt.analysis.summary`).

    Reads each run's ``analysis/events.jsonl`` (run :func:`analyze_run` first).

    Raises:
        ValueError: a run without analysis events, or labels that do not match the runs.
    """
    labels = list(labels) if labels else [Path(r).name for r in runs]
    if len(labels) != len(runs):
        raise ValueError(f"{len(runs)} runs but {len(labels)} labels")
    curv: list[dict[str, Any]] = []
    cos: list[dict[str, Any]] = []
    by_level: list[dict[str, Any]] = []  # λ_max averaged over each resource level, per step
    hilo: list[dict[str, Any]] = []  # whole-model HiLo cosine, per step
    summaries: dict[str, dict[str, Any]] = {}
    for run, label in zip(runs, labels, strict=True):
        path = Path(run) / "analysis" / "events.jsonl"
        if not path.exists():
            raise ValueError(f"{run} has no analysis/events.jsonl; run `catsmt analyze {run}` first")
        run_events = list(read_metrics(path))
        levels = {e["lang"]: e["group"] for e in run_events if e.get("group") in ("low", "high")}
        if any(e.get("event") in ("curvature", "grad_norm") for e in run_events):
            summaries[label] = summarize_run(run_events, levels)
        run_curv = [e for e in run_events if e.get("event") == "curvature"]
        for step, per in level_means(run_curv, "lambda_max", levels).items():
            by_level += [{"step": step, "method": label, "level": lv, "lambda_max": per[lv]} for lv in ("low", "high") if lv in per]
        hilo += [{"step": e["step"], "method": label, "cos": e["cos_mean"]} for e in run_events
                 if e.get("event") == "gradsim_pairing" and e["group"] == "all" and e["pairing"] == "HiLo"]
        for e in run_events:
            if e.get("event") == "curvature":
                curv.append({**e, "method": label})
            elif e.get("event") == "gradsim" and e.get("group") == "all":
                cos.append({**e, "method": label, "pair": f"{e['lang_a']}-{e['lang_b']}"})
    if cos:  # Figure 2 bottom is one pair: the first two languages (choose them with --langs)
        first = (cos[0]["lang_a"], cos[0]["lang_b"])
        cos = [e for e in cos if (e["lang_a"], e["lang_b"]) == first]
    out.mkdir(parents=True, exist_ok=True)
    files = write_summary(summaries, out) if summaries else []
    if curv:
        files.append(plot_curves(curv, out / "lambda_max_by_method.png", y="lambda_max", hue="lang", style="method",
                                 title="top Hessian eigenvalue per language and method", ylabel="λ_max"))
    if cos:
        files.append(plot_curves(cos, out / "cosine_by_method.png", y="cos", hue="pair", style="method",
                                 title="gradient cosine similarity (whole model)", ylabel="cos"))
    if by_level:
        files.append(plot_curves(by_level, out / "lambda_max_by_level.png", y="lambda_max", hue="method", style="level",
                                 title="λ_max, mean over each resource level's languages", ylabel="λ_max"))
    if hilo:
        files.append(plot_curves(hilo, out / "cosine_hilo_by_method.png", y="cos", hue="method", style=None,
                                 title="HiLo gradient cosine (whole model, mean over pairs)", ylabel="cos"))
    return files
