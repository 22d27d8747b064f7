"""``catsmt compare``: train several methods with the same budget, evaluate, and report.

Each (method, seed) trains into ``OUT/runs/<method>-s<seed>`` with the same config and the
same update budget; only the method's weighting and the seed differ. Finished runs are
reused and interrupted ones resumed, so an interrupted comparison continues where it
stopped -- but only when the run's stored config is the one asked for: a run trained with
another config (another budget, say) is moved aside to ``<name>.superseded-<n>`` and trained
again. ``jobs`` runs train and evaluate in parallel processes. The best checkpoint of each run
(best mean validation NLL, as the paper selects) is evaluated on the test split, and the
results go to ``OUT/results.{json,csv}`` and ``OUT/report.{md,html}``.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import multiprocessing
import os
import subprocess
import time
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml

from catsmt.config import Config, load_config
from catsmt.decoding.config import DecodeConfig
from catsmt.files import write_atomic
from catsmt.report.methods import (  # is_proposed, method_label, parse_methods: also imported from here
    check_methods,
    is_proposed,
    method_label,
    method_presets,
    parse_methods,
    split_spec,
)
from catsmt.run.metrics import read_metrics

log = logging.getLogger(__name__)

__all__ = ["CompareResult", "CompareStopped", "RunRecord", "compare", "is_proposed", "method_label",
           "parse_methods", "run_config", "train_and_evaluate"]


class CompareStopped(RuntimeError):
    """A run of the comparison stopped before its budget (a signal, non-finite losses)."""


@dataclass
class RunRecord:
    """One trained and evaluated (method, seed)."""

    method: str
    seed: int
    run_dir: Path
    scores: dict[str, Any]  # evaluate_run's JSON
    valid_nll: dict[str, float]  # best checkpoint's per-language validation NLL
    summary: dict[str, Any]


@dataclass
class CompareResult:
    out: Path
    records: list[RunRecord] = field(default_factory=list)
    report_md: Path | None = None
    report_html: Path | None = None


def run_config(config: str | Path | None, overrides: Sequence[str], method: str, seed: int, run_dir: Path) -> Config:
    """The config of one (method, seed): the shared config plus the method's preset."""
    base, extra = split_spec(method)
    return load_config(config, [*overrides, *method_presets()[base], *extra, f"train.seed={seed}", f"train.run_dir={run_dir}"])


#: Config keys that do not change what a run learns: they may differ between a stored run and
#: the request without the run being trained again.
_NOT_LEARNED = {("train", "run_dir"), ("train", "progress"), ("train", "tensorboard")}


def learned_config(cfg: Config) -> dict[str, Any]:
    """The resolved config without the keys of :data:`_NOT_LEARNED` (what decides the weights)."""
    data = cfg.to_dict()
    for section, key in _NOT_LEARNED:
        data.get(section, {}).pop(key, None)
    return data


def _stored(run_dir: Path) -> dict[str, Any] | None:
    """:func:`learned_config` of the config a run folder was trained with (None: none, or unreadable)."""
    from catsmt.config_fields import from_dict

    try:
        return learned_config(from_dict(Config, yaml.safe_load((run_dir / "config.yaml").read_text())))
    except Exception:  # noqa: BLE001 - an unreadable config is a changed config
        return None


def _supersede_if_changed(run_dir: Path, cfg: Config) -> None:
    """Move a run trained with another config aside, so that it is trained again."""
    if not (run_dir / "config.yaml").exists() or _stored(run_dir) == learned_config(cfg):
        return
    n = 1
    while run_dir.with_name(f"{run_dir.name}.superseded-{n}").exists():
        n += 1
    target = run_dir.with_name(f"{run_dir.name}.superseded-{n}")
    log.warning("%s was trained with another config; moved to %s and training again", run_dir, target)
    run_dir.rename(target)


def _run_state(run_dir: Path) -> str:
    """``done`` (trained to its budget), ``partial`` (has a checkpoint) or ``new``."""
    summary = run_dir / "summary.json"
    if summary.exists():
        stopped = json.loads(summary.read_text()).get("stopped")
        if stopped in ("max_steps", "max_minutes"):
            return "done"
    if (run_dir / "config.yaml").exists():  # started; resumes from its last checkpoint (or step 0)
        return "partial"
    return "new"


def _best_valid(run_dir: Path, best_step: int) -> dict[str, float]:
    out: dict[str, float] = {}
    for e in read_metrics(run_dir / "metrics.jsonl"):
        if e.get("event") == "valid" and e.get("step") == best_step and e.get("lang") != "avg":
            out[e["lang"]] = float(e["nll"])
    return out


def train_and_evaluate(
    config: str | Path | None,
    overrides: Sequence[str],
    method: str,
    seed: int,
    out: Path,
    decode: DecodeConfig,
    split: str = "test",
    device: str = "cpu",
    eval_max_sentences: int = 0,
) -> RunRecord:
    """Train (or reuse / resume) one run and evaluate its best checkpoint."""
    from catsmt.evaluation.run_eval import evaluate_run
    from catsmt.training.trainer import train

    run_dir = out / "runs" / f"{method}-s{seed}"
    cfg = run_config(config, overrides, method, seed, run_dir)
    _supersede_if_changed(run_dir, cfg)
    state = _run_state(run_dir)
    if state != "done":
        log.info("%s %s (seed %d) in %s", "resuming" if state == "partial" else "training", method, seed, run_dir)
        result = train(cfg, resume=state == "partial")
        if result.stopped not in ("max_steps", "max_minutes"):
            raise CompareStopped(
                f"{method} (seed {seed}) stopped early ({result.stopped}) in {run_dir}; "
                "run the same compare command again to resume it"
            )
    else:
        log.info("reusing finished run %s", run_dir)
    summary = json.loads((run_dir / "summary.json").read_text())
    eval_path = run_dir / "eval" / f"{split}.json"
    scores = json.loads(eval_path.read_text()) if eval_path.exists() else None
    if scores is None or scores.get("beam") != decode.beam or scores.get("max_sentences", 0) != eval_max_sentences:
        threads = cfg.train.threads
        if threads > 0:  # decode with the runs' thread count (oversubscribed CPUs decode far slower)
            torch.set_num_threads(threads)
        scores = evaluate_run(
            run_dir, split=split, decode=decode, checkpoint="best", device=device,
            out=eval_path, max_sentences=eval_max_sentences,
        )
        scores["max_sentences"] = eval_max_sentences
        write_atomic(eval_path, json.dumps(scores, indent=2, ensure_ascii=False) + "\n")
    return RunRecord(method, seed, run_dir, scores, _best_valid(run_dir, int(summary["best_step"])), summary)


def write_results(records: Sequence[RunRecord], out: Path) -> None:
    """``results.json`` (everything) and ``results.csv`` (one row per method, seed, language)."""
    rows = []
    for r in records:
        for lang, s in r.scores["langs"].items():
            rows.append({
                "method": r.method, "seed": r.seed, "lang": lang, "group": s["group"],
                "bleu": s["bleu"], "chrf": s["chrf"], "valid_nll": r.valid_nll.get(lang), "n": s["n"],
            })
    write_atomic(out / "results.json", json.dumps({
        "runs": [
            {"method": r.method, "seed": r.seed, "run_dir": str(r.run_dir),
             "steps": r.summary.get("steps"), "stop_reason": r.summary.get("stopped"),
             "target_tokens": r.summary.get("target_tokens"), "train_seconds": r.summary.get("train_seconds"),
             "best_step": r.summary.get("best_step"),
             "scores": r.scores, "valid_nll": r.valid_nll, "summary": r.summary}
            for r in records
        ],
        "rows": rows,
    }, indent=2, ensure_ascii=False, default=str) + "\n")
    table = io.StringIO(newline="")
    writer = csv.DictWriter(table, fieldnames=["method", "seed", "lang", "group", "bleu", "chrf", "valid_nll", "n"])
    writer.writeheader()
    writer.writerows(rows)
    write_atomic(out / "results.csv", table.getvalue())


def _last_step(run_dir: Path) -> int:
    """The newest update logged in a run's metrics.jsonl (read from its last few KB)."""
    try:
        with open(run_dir / "metrics.jsonl", "rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - 8192))
            tail = f.read().decode("utf-8", errors="replace").splitlines()
    except OSError:
        return 0
    for line in reversed(tail):
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and isinstance(event.get("step"), int):
            return int(event["step"])
    return 0


def _watch(futures: Sequence[Future[Any]], budgets: Sequence[tuple[Path, int]], poll: float = 1.0) -> None:
    """One progress bar over runs trained in parallel: updates done of all of them (read from
    their metrics.jsonl), its ETA from the rate since the bar began (runs finished before it
    -- reused ones -- are counted from the start, not as speed). Shown on a terminal only."""
    from tqdm import tqdm

    total = sum(steps for _, steps in budgets)

    def done() -> int:
        return sum(min(_last_step(run), steps) for run, steps in budgets)

    with tqdm(total=total, initial=done(), unit="upd", desc=f"{len(budgets)} runs", dynamic_ncols=True,
              mininterval=poll, disable=None) as bar:
        while not all(f.done() for f in futures):
            time.sleep(poll)
            bar.update(max(0, done() - bar.n))
        bar.update(max(0, done() - bar.n))


def _log_like_parent(level: int) -> None:
    """Logging of a worker process: to stderr, at the parent's level, each line naming the run."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s [%(processName)s] %(name)s: %(message)s", datefmt="%H:%M:%S")


def git_commit() -> str:
    """The current commit of the catsmt checkout, or 'unknown'."""
    try:
        here = Path(__file__).resolve().parent
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=here, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def compare(
    config: str | Path | None,
    methods: Sequence[str],
    seeds: Sequence[int],
    out: str | Path,
    overrides: Sequence[str] = (),
    decode: DecodeConfig | None = None,
    split: str = "test",
    device: str = "cpu",
    eval_max_sentences: int = 0,
    command: str = "",
    jobs: int = 1,
    report_only: bool = False,
) -> CompareResult:
    """Train every (method, seed) with the same budget, evaluate, write results and report.

    Args:
        config: the shared YAML config (or None for defaults + overrides).
        methods: names from :func:`~catsmt.report.methods.method_presets` (every registered
            weighting method, and ``t1``, ``t5``, ``tinf``), optionally with ``+key=value`` variants.
        seeds: training seeds; each method runs once per seed.
        out: the report folder.
        overrides: ``key=value`` overrides shared by all runs (the budget: ``train.max_steps``).
        decode: beam search settings of the test evaluation (default: beam 5, lenpen 1).
        split: evaluation split.
        device: decoding device.
        eval_max_sentences: per-language cap on test sentences (0 = all).
        command: the command line, recorded in the report.
        jobs: (method, seed) runs trained and evaluated at once, each in its own process
            (give each run ``train.threads`` so that ``jobs × threads`` fits the cores).
        report_only: train nothing: report the (method, seed) runs that finished with this
            config, and skip (with a warning) those that did not.
    """
    from catsmt.evaluation.run_eval import SPLITS
    from catsmt.report.render import write_report

    out = Path(out)
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)} (held-out data), got '{split}'")
    check_methods(list(methods))
    # Validate every run's config before the first one trains for hours.
    for m in methods:
        run_config(config, overrides, m, seeds[0], out / "runs" / "check")
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, got {jobs}")
    out.mkdir(parents=True, exist_ok=True)  # after the checks: a refused command leaves nothing
    decode = decode or DecodeConfig()
    result = CompareResult(out)
    todo = [(m, seed) for seed in seeds for m in methods]
    if report_only:
        ready = []
        for m, seed in todo:
            run_dir = out / "runs" / f"{m}-s{seed}"
            if _run_state(run_dir) == "done" and learned_config(run_config(config, overrides, m, seed, run_dir)) == _stored(run_dir):
                ready.append((m, seed))
            else:
                log.warning("no finished run of %s seed %d with this config in %s: left out of the report", m, seed, run_dir)
        if not ready:
            raise ValueError(f"no finished run to report in {out / 'runs'}")
        todo = ready
    if jobs == 1:
        for m, seed in todo:
            result.records.append(
                train_and_evaluate(config, overrides, m, seed, out, decode, split, device, eval_max_sentences)
            )
    else:
        quiet = [*overrides, "train.progress=false"]  # one bar per process would interleave
        with ProcessPoolExecutor(
            max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
            initializer=_log_like_parent, initargs=(logging.getLogger().getEffectiveLevel(),),
        ) as pool:
            futures = [
                pool.submit(train_and_evaluate, config, quiet, m, seed, out, decode, split, device, eval_max_sentences)
                for m, seed in todo
            ]
            budgets = [(out / "runs" / f"{m}-s{seed}", run_config(config, overrides, m, seed, out / "runs" / "check").train.max_steps)
                       for m, seed in todo]
            _watch(futures, budgets)
            result.records.extend(f.result() for f in futures)
    write_results(result.records, out)
    meta = {"command": command, "commit": git_commit(), "config": str(config), "overrides": list(overrides),
            "split": split, "beam": decode.beam, "lenpen": decode.lenpen, "eval_max_sentences": eval_max_sentences}
    write_atomic(out / "compare.json", json.dumps(meta, indent=2) + "\n")
    result.report_md, result.report_html = write_report(result.records, out, meta)
    return result
