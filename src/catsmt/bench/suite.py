"""``run_bench``: every case of the suite in one process, interleaved, into one result."""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Callable
from typing import Any

import torch

from catsmt.bench.cases import (
    BETWEEN_UPDATES,
    Methods,
    TrainCase,
    hvp_case,
    train_case,
    train_cases,
)
from catsmt.bench.config import PLAIN, BenchConfig
from catsmt.bench.data import PAD_ID, POOL, SyntheticData, fixed_batches
from catsmt.bench.decoding import decode_rows
from catsmt.bench.measure import PeakMemory, interleaved
from catsmt.bench.result import BenchResult, Row, amortised_rows, describe_environment, timed_row
from catsmt.config_fields import to_dict
from catsmt.data.sampler import BatchSampler
from catsmt.model import ModelConfig, Transformer, build_model
from catsmt.run.device import resolve_device
from catsmt.weighting import label_of

#: Rows besides the training steps, in words.
LABELS = {
    "data": "data: sampler.next_batch",
    "plain_logits": "plain step, loss from the full logits",
    "hvp": "Hessian-vector product (1 sub-batch)",
}


def _json_safe(value: Any) -> Any:
    """``value`` with non-finite floats as strings (``"inf"``), as strict JSON needs."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def _model(cfg: BenchConfig, device: torch.device) -> Transformer:
    torch.manual_seed(cfg.seed)
    return build_model(ModelConfig.from_mapping({"preset": cfg.preset}), cfg.vocab, PAD_ID).to(device)


def run_bench(cfg: BenchConfig, command: str = "", log: Callable[[str], None] | None = None) -> BenchResult:
    """Run the whole suite (see :mod:`catsmt.bench`).

    Args:
        cfg: sizes, repeats and the methods to time.
        command: the command line to record with the result.
        log: called with a line of progress now and then (e.g. ``print``).

    Raises:
        ValueError: a bad ``cfg`` field, or a CUDA device asked for where there is none.
    """
    cfg.validate()
    say = log or (lambda _line: None)
    device = resolve_device(cfg.device)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    environment = describe_environment(device, command)
    memory = PeakMemory(device)

    data = SyntheticData.build(cfg, max_len=min(128, cfg.slot_tokens))
    langs = data.langs
    batches = [b.to(device) for b in fixed_batches(data.splits["train"], cfg, POOL)]
    batch_tokens = statistics.mean(b.n_tokens for b in batches)
    model = _model(cfg, device)
    model.train()
    methods = Methods(cfg, data, model, device)
    say(f"bench: {cfg.preset} model, {model.num_parameters():,} parameters, {len(langs)} languages, K={cfg.langs_per_batch}, "
        f"{batch_tokens:.0f} target tokens per batch on {environment['device_name']}")

    non_finite: dict[str, int] = {}
    skipped: dict[str, str] = {}
    cases: dict[str, Callable[[], Any]] = {}
    train: dict[str, tuple[TrainCase, dict[str, Any]]] = {}
    data_sampler = BatchSampler(data.splits["train"], dict.fromkeys(langs, 1.0 / len(langs)), max_tokens=cfg.max_tokens,
                                langs_per_batch=cfg.langs_per_batch, seed=cfg.seed, pack_len=cfg.pack_len)
    cases["data"] = data_sampler.next_batch
    budget: dict[str, int] = {}
    for name in cfg.method_names():
        try:
            probe = methods.build(name)
        except ImportError as e:  # an optional extra (torchjd) not installed
            skipped[name] = str(e)
            say(f"bench: skipping {name}: {e}")
            continue
        budget = to_dict(probe.budget) if probe.budget is not None else budget
        for case in train_cases(name, probe):
            method = methods.build(name)  # each case its own state
            cases[case.name] = train_case(methods.context(method), method, case, batches, non_finite)
            train[case.name] = (case, {"method": name, "params": _json_safe(to_dict(method.params))})
    if cfg.loss_chunk > 0:
        plain = TrainCase("plain_logits", PLAIN, False, LABELS["plain_logits"])
        cases["plain_logits"] = train_case(dataclasses.replace(methods.ctx, loss_chunk=0), methods.build(PLAIN), plain,
                                           batches, non_finite)
        train["plain_logits"] = (plain, {"method": PLAIN})
    cases["hvp"] = hvp_case(methods.ctx, batches[0].parts[0], cfg.seed)
    calls = {name: cfg.steps for name in cases}
    calls["data"] = 10 * cfg.steps  # a call is short: time several together
    say(f"bench: timing {len(cases)} cases, {cfg.warmup} warm-up + {cfg.repeats} rounds")
    times = interleaved(cases, cfg.repeats, cfg.warmup, calls, device)
    say("bench: peak memory")
    peaks = {name: memory.measure(fn) for name, fn in cases.items()}

    plain_times = times["plain"]
    rows: list[Row] = []
    for name, t in times.items():
        group = "train" if name in train else "data" if name == "data" else "curvature"
        extra: dict[str, Any] = dict(train[name][1]) if name in train else {}
        if name == "hvp":
            extra["target_tokens"] = batches[0].parts[0].n_tokens
        if name in non_finite:
            extra["non_finite_steps"] = non_finite[name]
        label = train[name][0].label if name in train else LABELS[name]
        row = timed_row(name, label, group, t, plain_times, peaks[name], extra)
        if group == "train":
            row.tokens_per_s = batch_tokens / row.seconds
        rows.append(row)
        if name.endswith("_meta") and name[: -len("_meta")] in BETWEEN_UPDATES:
            base = name[: -len("_meta")]
            rows.extend(amortised_rows(rows, base, label_of(base)))

    if cfg.decode_sentences:
        rows.extend(decode_rows(cfg, device, memory, say))
    return BenchResult(cfg, environment, memory.method, rows, budget=budget, skipped=skipped)
