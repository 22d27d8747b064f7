"""A benchmark suite: what each training step, a curvature product and decoding cost, side by side.

``run_bench(BenchConfig(...))`` measures, in one process, on synthetic data (no corpus needed):

* **training steps** through :func:`catsmt.training.step.train_step`, as the trainer runs them:
  plain training (temperature weighting), a CATS step between meta updates, a CATS meta
  update, and one task-gradient step of PCGrad, GradVac, MGDA, GradNorm and MultiDDS (its
  update step, development-set gradient included). CATS's cost at a meta-update interval
  ``m`` is derived from the measured medians: ``(t_meta + (m - 1) t_cats) / m``;
* **one Hessian-vector product** (:func:`catsmt.analysis.curvature.hvp`, math attention,
  fp32, on one language sub-batch of ``max_tokens / K`` tokens);
* **greedy and beam-search decoding** (:func:`catsmt.decoding.translate_ids`) in target tokens
  per second, counting each hypothesis's ``</s>``. An untrained model almost never emits
  ``</s>`` and would decode every sentence to its maximum length; a few hundred updates of
  training teach a model nothing on a CPU (100 updates on a copy task left the loss at
  ln V and every hypothesis empty). So the decoding model is a randomly initialised one whose
  ``</s>`` is forced: barred until the output is as long as the source, then made the top
  token (:class:`EndsAtSourceLength`). Sentences and beams then finish at their own lengths
  and leave the batch, as they do with a trained model;
* **the data loader**: one :meth:`catsmt.data.sampler.BatchSampler.next_batch` over ``N``
  languages of TED-like lengths;
* **peak memory** of each of these, by the method named in the output.

How it is measured, since the machines it runs on are shared and noisy: every case is warmed
up, then the cases run *interleaved*, one after another in a rotating order, for ``repeats``
rounds; in a round every training case runs the same batch. A case's time is the median over
rounds, and its ratio to plain training is the median of the per-round ratios (paired: the
two ran seconds apart on the same batch), with the interquartile range of those ratios.

Batches: ``K = langs_per_batch`` sub-batches of distinct languages, each filled by the real
sampler to ``max_tokens / K`` padded tokens (or packed, with ``pack_len``) from random token ids whose lengths follow a
log-normal law (median 20, like TED subwords), so every task-gradient step sees K languages
(the most it can).
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import datetime
import gc
import itertools
import math
import os
import platform
import resource
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from catsmt import __version__
from catsmt.analysis.curvature import hvp, measurement_mode
from catsmt.config_fields import option
from catsmt.data.batch import Batch, LangBatch
from catsmt.data.binarize import TaskArrays, TokenArray
from catsmt.data.sampler import BatchSampler
from catsmt.decoding import DecodeConfig, translate_ids
from catsmt.model import PRESETS, ModelConfig, Transformer, build_model, label_smoothed_loss
from catsmt.model.transformer import DecoderCache, EncoderOut
from catsmt.run.device import autocast_factory, resolve_device
from catsmt.training.step import StepContext, train_step
from catsmt.weighting import Weighting, get_method
from catsmt.weighting.grads import flat_grad, param_slices, trainable

PAD_ID, EOS_ID, UNK_ID = 1, 2, 3
FIRST_TAG = 4  # language tags <2xx> are FIRST_TAG .. FIRST_TAG + N - 1; content ids follow

MEDIAN_LENGTH = 20.0
"""Median sentence length in subwords of the synthetic data (TED talks with a 32k vocabulary)."""

LENGTH_SIGMA = 0.5
"""Log-normal spread of the lengths (about 9 to 45 subwords for 90% of sentences)."""

PAIRS_PER_LANG = 20_000
"""Synthetic training pairs per language: enough that the sampler's windows are real."""

POOL = 4
"""Distinct batches the training cases cycle through (the same one for every case in a round)."""

TRAIN_LR = 1e-4
"""Learning rate of the measured steps: small, so that no step turns non-finite."""

# One row of the suite per training case: (method, hyperparameters that differ from the
# method's defaults, the step index of the i-th call, whether that step takes the task-
# gradient path). The step indices put CATS and MultiDDS on or off their update steps.
TRAIN_CASES: dict[str, tuple[str, dict[str, Any], Callable[[int], int], bool]] = {
    "plain": ("temperature", {}, lambda i: i, False),
    "cats": ("cats", {"update_every": [[0, 10]]}, lambda i: 10 * i + 1, False),
    "cats_meta": ("cats", {"update_every": [[0, 10]]}, lambda i: 10 * i, True),
    "pcgrad": ("pcgrad", {}, lambda i: i, True),
    "gradvac": ("gradvac", {}, lambda i: i, True),
    "mgda": ("mgda", {}, lambda i: i, True),
    "gradnorm": ("gradnorm", {"update_every": 1}, lambda i: i, True),
    "multidds": ("multidds", {"update_every": 100}, lambda i: 100 * i, True),
}

LABELS = {
    "data": "data: sampler.next_batch",
    "plain": "plain step (temperature)",
    "plain_logits": "plain step, loss from the full logits",
    "cats": "CATS step, no meta update",
    "cats_meta": "CATS meta-update step",
    "pcgrad": "PCGrad step",
    "gradvac": "GradVac step",
    "mgda": "MGDA step",
    "gradnorm": "GradNorm update step",
    "multidds": "MultiDDS update step (+ dev grad)",
    "hvp": "Hessian-vector product (1 sub-batch)",
    "greedy": "greedy decoding",
}

AMORTISED_M = (10, 100, 1000)

PRECISIONS = ("fp32", "bf16", "fp16")

#: The targets of the issue that asked for this suite, checked in the table:
#: row -> (column, lowest allowed, highest allowed); None = no bound.
TARGETS: dict[str, tuple[str, float | None, float | None]] = {
    "cats": ("ratio", 0.99, 1.01),  # a step between meta updates costs what plain training costs
    "cats_meta": ("ratio", None, 1.3),
    "cats_m10": ("throughput_ratio", 0.97, None),
}


@dataclass
class BenchConfig:
    """What to measure and at which size."""

    preset: str = option("tiny", f"model preset: {', '.join(PRESETS)}")
    vocab: int = option(8000, "vocabulary size (the output layer's width)")
    max_tokens: int = option(4096, "tokens per training batch, all K sub-batches together (padded, or the pairs' own when packing)")
    loss_chunk: int = option(0, "training steps compute the loss fused with the output projection, this many target positions at a time, as train.loss_chunk does (0 = from the full logits); when > 0 the row plain_logits times the plain step with the loss from the full logits")
    pack_len: int = option(0, "pack pairs several to a row of about this many tokens a side, as data.pack does in training (0 = pad each pair)")
    langs_per_batch: int = option(4, "K: language sub-batches per batch (distinct languages)")
    langs: int = option(0, "N: languages of the run (rows of the task-gradient matrix, sampler languages); 0 = K")
    repeats: int = option(10, "timed rounds of the interleaved training, data and curvature cases")
    warmup: int = option(2, "untimed rounds before them")
    steps: int = option(1, "calls of each case per round")
    device: str = option("auto", "auto (cuda when available), cpu, cuda or cuda:N")
    precision: str = option("fp32", "fp32, bf16 or fp16 autocast for the training steps and decoding")
    threads: int = option(0, "CPU threads for torch; 0 = torch's default")
    decode_sentences: int = option(200, "sentences to translate in each decoding measurement; 0 = skip decoding")
    decode_repeats: int = option(3, "timed rounds of decoding (after one untimed round)")
    beam: int = option(5, "beam size of the beam-search row")
    seed: int = option(0, "seed of the synthetic data, the models and the samplers")

    def validate(self) -> None:
        """Raises ValueError naming the first bad field."""
        if self.preset not in PRESETS:
            raise ValueError(f"unknown preset '{self.preset}'; valid presets: {', '.join(PRESETS)}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be fp32, bf16 or fp16, got '{self.precision}'")
        for name in ("repeats", "steps", "langs_per_batch", "beam"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("warmup", "decode_sentences", "decode_repeats", "threads", "langs", "pack_len", "loss_chunk"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if 0 < self.langs < self.langs_per_batch:
            raise ValueError(f"langs (N={self.langs}) must be >= langs_per_batch (K={self.langs_per_batch})")
        first_content = FIRST_TAG + self.n_langs
        if self.vocab < first_content + 16:
            raise ValueError(f"vocab must be at least {first_content + 16} for {self.n_langs} languages, got {self.vocab}")
        if self.slot_tokens < 32:
            raise ValueError(
                f"max_tokens / langs_per_batch = {self.slot_tokens} padded tokens per sub-batch is too few; "
                "raise max_tokens to at least 32 * langs_per_batch"
            )

    @property
    def n_langs(self) -> int:
        return self.langs or self.langs_per_batch

    @property
    def slot_tokens(self) -> int:
        return self.max_tokens // self.langs_per_batch


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
    config: BenchConfig
    environment: dict[str, Any]
    memory_method: str
    rows: list[Row]

    def row(self, name: str) -> Row:
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(f"no row '{name}'; rows: {', '.join(r.name for r in self.rows)}")

    def targets(self) -> list[dict[str, Any]]:
        """The issue's targets (:data:`TARGETS`) against this result."""
        out = []
        for name, (column, low, high) in TARGETS.items():
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
        return {
            "catsmt_bench": 1,
            "config": dataclasses.asdict(self.config),
            "environment": self.environment,
            "memory_method": self.memory_method,
            "rows": [dataclasses.asdict(r) for r in self.rows],
            "targets": self.targets(),
        }


def _within(value: float | None, low: float | None, high: float | None) -> bool:
    return value is not None and (low is None or value >= low) and (high is None or value <= high)


# -- synthetic data ------------------------------------------------------------------------


def synthetic_lengths(n: int, max_len: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``(n,)`` source and target lengths in subwords: log-normal sources (median
    :data:`MEDIAN_LENGTH`), targets the source length times ``exp(N(0, 0.15))``; both in
    ``[1, max_len]``."""
    src = np.exp(rng.normal(math.log(MEDIAN_LENGTH), LENGTH_SIGMA, n))
    tgt = src * np.exp(rng.normal(0.0, 0.15, n))
    clip = lambda x: np.clip(np.rint(x), 1, max_len).astype(np.int64)  # noqa: E731
    return clip(src), clip(tgt)


def _token_array(seqs_flat: np.ndarray, lengths: np.ndarray) -> TokenArray:
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return TokenArray(seqs_flat.astype(np.int32), offsets)


def synthetic_tasks(
    n_langs: int, vocab: int, pairs: int, max_len: int, seed: int
) -> dict[str, TaskArrays]:
    """``n_langs`` languages ``l0, l1, ...`` of ``pairs`` random sentence pairs each.

    Sources are ``[tag] + pieces + [</s>]`` and targets pieces only, as catsmt's binarizer
    writes them; pieces are uniform random content ids.
    """
    rng = np.random.default_rng(seed)
    first = FIRST_TAG + n_langs
    tasks = {}
    for i in range(n_langs):
        tag = FIRST_TAG + i
        src_len, tgt_len = synthetic_lengths(pairs, max_len - 2, rng)
        pieces = rng.integers(first, vocab, int(src_len.sum()))
        starts = np.cumsum(src_len) - src_len
        src = np.empty(int(src_len.sum()) + 2 * pairs, dtype=np.int64)
        pos = starts + 2 * np.arange(pairs)  # where each source sentence starts in ``src``
        src[pos] = tag
        src[pos + src_len + 1] = EOS_ID
        body = np.ones(len(src), dtype=bool)
        body[pos] = False
        body[pos + src_len + 1] = False
        src[body] = pieces
        tgt = rng.integers(first, vocab, int(tgt_len.sum()))
        lang = f"l{i}"
        tasks[lang] = TaskArrays(lang, _token_array(src, src_len + 2), _token_array(tgt, tgt_len), tag, PAD_ID, EOS_ID)
    return tasks


def fixed_batches(tasks: dict[str, TaskArrays], cfg: BenchConfig, count: int) -> list[Batch]:
    """``count`` batches of K distinct languages (rotating through the N), each sub-batch
    filled by a :class:`BatchSampler` to ``max_tokens / K`` padded tokens."""
    langs = sorted(tasks)
    samplers = {
        lang: BatchSampler({lang: tasks[lang]}, {lang: 1.0}, max_tokens=cfg.slot_tokens,
                           langs_per_batch=1, seed=cfg.seed + i, pack_len=cfg.pack_len)
        for i, lang in enumerate(langs)
    }
    out = []
    for b in range(count):
        chosen = [langs[(b * cfg.langs_per_batch + k) % len(langs)] for k in range(cfg.langs_per_batch)]
        out.append(Batch([samplers[lang].next_batch().parts[0] for lang in sorted(chosen)]))
    return out


# -- measuring -----------------------------------------------------------------------------


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _quartiles(values: Sequence[float]) -> tuple[float, float]:
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
            _sync(device)
            t0, c0 = time.perf_counter(), time.process_time()
            for _ in range(n):
                cases[name]()
            _sync(device)
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


# -- the cases -----------------------------------------------------------------------------


def _model(cfg: BenchConfig, device: torch.device, **overrides: Any) -> Transformer:
    torch.manual_seed(cfg.seed)
    model_cfg = ModelConfig.from_mapping({"preset": cfg.preset, **overrides})
    return build_model(model_cfg, cfg.vocab, PAD_ID).to(device)


def _context(model: nn.Module, cfg: BenchConfig, device: torch.device, langs: list[str], lr: float) -> StepContext:
    params = trainable(model.parameters())
    kwargs: dict[str, Any] = {"fused": True} if device.type == "cuda" else {}
    optimizer = torch.optim.Adam(params, lr=lr, betas=(0.9, 0.98), **kwargs)
    return StepContext(
        model=model, params=params, param_slices=param_slices(model.named_parameters()),
        optimizer=optimizer, scaler=torch.amp.GradScaler(device.type, enabled=cfg.precision == "fp16"),
        autocast=autocast_factory(cfg.precision, device), pad_id=PAD_ID, label_smoothing=0.1,
        clip_norm=0.0, langs=langs, loss_chunk=cfg.loss_chunk,
    )


def dev_batch(task: TaskArrays, budget: int, max_sentences: int = 64) -> LangBatch:
    """The first pairs of ``task`` that fit ``budget`` padded tokens and ``max_sentences``:
    the size of the dev batch the trainer gives MultiDDS."""
    longest = np.maximum.accumulate(task.costs[:max_sentences])
    n = int(np.searchsorted(np.arange(1, len(longest) + 1) * longest, budget, side="right"))
    return task.batch(np.arange(max(n, 1)))


def _dev_grad(model: nn.Module, params: list[nn.Parameter], dev: list[LangBatch]) -> Callable[[], Tensor]:
    """MultiDDS's development gradient, as the trainer computes it: the mean per-language
    loss of one small dev batch per language, in eval mode."""

    def dev_grad() -> Tensor:
        was_training = model.training
        model.eval()
        model.zero_grad(set_to_none=True)
        for part in dev:
            loss, _, n = label_smoothed_loss(model(*part.inputs), part.tgt_out, PAD_ID, 0.1)
            (loss / n.clamp_min(1) / len(dev)).backward()
        model.train(was_training)
        return flat_grad(params).clone()

    return dev_grad


def _train_case(
    ctx: StepContext, method: Weighting, step_of: Callable[[int], int], expect_task_grads: bool,
    batches: list[Batch], name: str, non_finite: dict[str, int],
) -> Callable[[], None]:
    cycle = itertools.cycle(batches)
    counter = itertools.count()

    def run() -> None:
        stats = train_step(ctx, method, step_of(next(counter)), next(cycle).parts)
        if stats.used_task_grads != expect_task_grads:
            raise RuntimeError(f"bench case '{name}' expected used_task_grads={expect_task_grads}")
        if not stats.finite:
            non_finite[name] = non_finite.get(name, 0) + 1

    return run


def _hvp_case(model: nn.Module, params: list[nn.Parameter], part: LangBatch, seed: int) -> Callable[[], None]:
    gen = torch.Generator().manual_seed(seed)
    n = sum(p.numel() for p in params)
    vec = torch.randn(n, generator=gen).to(params[0].device)

    def loss_fn() -> Tensor:
        loss, _, count = label_smoothed_loss(model(*part.inputs), part.tgt_out, PAD_ID, 0.1)
        return loss / count.clamp_min(1)

    def run() -> None:
        with measurement_mode(model):
            hvp(loss_fn, params, vec)

    return run


class EndsAtSourceLength(Transformer):
    """A Transformer whose decoder emits ``</s>`` exactly when its output is as long as the
    source without tag and ``</s>`` (``</s>`` is barred before, and the top token then).

    A stand-in for a trained model's hypothesis lengths in decoding benchmarks: the searches
    run their real end-of-sentence handling (finished beams, sentences leaving the batch), at
    the cost of one comparison per step. Only incremental decoding (with a cache) is changed.
    """

    def decode(  # type: ignore[override]
        self,
        tgt_in: Tensor,
        enc: EncoderOut,
        cache: DecoderCache | None = None,
        tgt_seg: Tensor | None = None,
    ) -> tuple[Tensor, DecoderCache | None]:
        if cache is None:
            return super().decode(tgt_in, enc, None, tgt_seg)
        logits, cache = super().decode(tgt_in, enc, cache)  # (B, T, V)
        emitted = cache.length - 1  # outputs so far: the positions fed, less the tag
        length = (~enc.src_pad).sum(1) - 2  # (B,) source pieces
        last = logits[:, -1]  # (B, V)
        top = last.max(dim=-1).values  # (B,)
        last[:, EOS_ID] = torch.where(length <= emitted, top + 20.0, top - 1e4)
        return logits, cache


def _decoding_model(cfg: BenchConfig, device: torch.device) -> tuple[Transformer, list[list[int]], list[int]]:
    """An :class:`EndsAtSourceLength` model of the preset, and sources to translate."""
    torch.manual_seed(cfg.seed)
    model = EndsAtSourceLength(ModelConfig.from_mapping({"preset": cfg.preset}), cfg.vocab, PAD_ID).to(device).eval()
    n = cfg.n_langs
    tasks = synthetic_tasks(n, cfg.vocab, cfg.decode_sentences // n + 1, min(128, cfg.slot_tokens), cfg.seed + 11)
    langs = sorted(tasks)
    sources = [tasks[langs[i % n]].src[i // n].tolist() for i in range(cfg.decode_sentences)]
    bos = [tasks[langs[i % n]].tgt_tag for i in range(cfg.decode_sentences)]
    return model, sources, bos


# -- the suite -----------------------------------------------------------------------------


def run_bench(cfg: BenchConfig, command: str = "", log: Callable[[str], None] | None = None) -> BenchResult:
    """Run the whole suite (see the module docstring).

    Args:
        cfg: sizes and repeats.
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

    n = cfg.n_langs
    max_len = min(128, cfg.slot_tokens)
    tasks = synthetic_tasks(n, cfg.vocab, PAIRS_PER_LANG, max_len, cfg.seed)
    langs = sorted(tasks)
    batches = [b.to(device) for b in fixed_batches(tasks, cfg, POOL)]
    batch_tokens = statistics.mean(b.n_tokens for b in batches)
    model = _model(cfg, device)
    model.train()
    ctx = _context(model, cfg, device, langs, TRAIN_LR)
    dev = [dev_batch(tasks[lang], cfg.max_tokens // 2).to(device) for lang in langs]
    ctx.dev_grad = _dev_grad(model, ctx.params, dev)
    say(f"bench: {cfg.preset} model, {model.num_parameters():,} parameters, {n} languages, K={cfg.langs_per_batch}, "
        f"{batch_tokens:.0f} target tokens per batch on {environment['device_name']}")

    non_finite: dict[str, int] = {}
    cases: dict[str, Callable[[], Any]] = {}
    data_sampler = BatchSampler(tasks, dict.fromkeys(langs, 1.0 / n), max_tokens=cfg.max_tokens,
                                langs_per_batch=cfg.langs_per_batch, seed=cfg.seed, pack_len=cfg.pack_len)
    cases["data"] = data_sampler.next_batch
    for name, (method_name, overrides, step_of, task_grads) in TRAIN_CASES.items():
        cls = get_method(method_name)
        method = cls(dataclasses.replace(cls.Params(), **overrides), langs, dict.fromkeys(langs, PAIRS_PER_LANG))
        cases[name] = _train_case(ctx, method, step_of, task_grads, batches, name, non_finite)
    if cfg.loss_chunk > 0:
        method = get_method("temperature")(get_method("temperature").Params(), langs, dict.fromkeys(langs, PAIRS_PER_LANG))
        cases["plain_logits"] = _train_case(dataclasses.replace(ctx, loss_chunk=0), method, lambda i: i, False,
                                            batches, "plain_logits", non_finite)
    cases["hvp"] = _hvp_case(model, ctx.params, batches[0].parts[0], cfg.seed)
    calls = {name: cfg.steps for name in cases}
    calls["data"] = 10 * cfg.steps  # a call is short: time several together
    say(f"bench: timing {len(cases)} cases, {cfg.warmup} warm-up + {cfg.repeats} rounds")
    times = interleaved(cases, cfg.repeats, cfg.warmup, calls, device)
    say("bench: peak memory")
    peaks = {name: memory.measure(fn) for name, fn in cases.items()}

    plain = times["plain"]
    rows: list[Row] = []
    for name, t in times.items():
        group = "data" if name == "data" else "curvature" if name == "hvp" else "train"
        extra: dict[str, Any] = {}
        if name == "hvp":
            extra["target_tokens"] = batches[0].parts[0].n_tokens
        if name in non_finite:
            extra["non_finite_steps"] = non_finite[name]
        row = _timed_row(name, LABELS[name], group, t, plain, peaks[name], extra)
        if group == "train":
            row.tokens_per_s = batch_tokens / row.seconds
        rows.append(row)
        if name == "cats_meta":
            rows.extend(_amortised_rows(rows))

    if cfg.decode_sentences:
        rows.extend(_decode_rows(cfg, device, memory, say))
    return BenchResult(cfg, environment, memory.method, rows)


def _timed_row(
    name: str, label: str, group: str, t: Timings, plain: Timings | None,
    peak: tuple[float, float], extra: dict[str, Any],
) -> Row:
    """A row from per-round timings; ratios are paired with ``plain``'s rounds."""
    row = Row(
        name=name, label=label, group=group, seconds=statistics.median(t.wall), seconds_q=_quartiles(t.wall),
        cpu_seconds=statistics.median(t.cpu), peak_mb=peak[0], peak_delta_mb=peak[1], extra=extra,
    )
    if plain is not None:
        ratios = [a / b for a, b in zip(t.wall, plain.wall, strict=True)]
        cpu_ratios = [a / b for a, b in zip(t.cpu, plain.cpu, strict=True) if b > 0]
        row.ratio, row.ratio_q = statistics.median(ratios), _quartiles(ratios)
        row.throughput_ratio = 1.0 / row.ratio
        if cpu_ratios:
            row.cpu_ratio, row.cpu_ratio_q = statistics.median(cpu_ratios), _quartiles(cpu_ratios)
    return row


def _amortised_rows(rows: list[Row]) -> list[Row]:
    """CATS at a meta-update interval m: ``(t_meta + (m - 1) t_cats) / m``, from the medians
    (seconds), and the same combination of the two median ratios to plain."""
    by_name = {r.name: r for r in rows}
    plain, meta, cats = by_name["plain"], by_name["cats_meta"], by_name["cats"]
    out = []
    for m in AMORTISED_M:
        row = Row(
            name=f"cats_m{m}", label=f"CATS amortised, m={m}", group="amortised",
            seconds=(meta.seconds + (m - 1) * cats.seconds) / m,
            cpu_seconds=(_num(meta.cpu_seconds) + (m - 1) * _num(cats.cpu_seconds)) / m,
            extra={"formula": "(t_meta + (m-1) * t_cats) / m, of the medians"},
        )
        row.ratio = (_num(meta.ratio) + (m - 1) * _num(cats.ratio)) / m
        row.throughput_ratio = 1.0 / row.ratio
        if meta.cpu_ratio is not None and cats.cpu_ratio is not None:
            row.cpu_ratio = (meta.cpu_ratio + (m - 1) * cats.cpu_ratio) / m
        row.tokens_per_s = None if plain.tokens_per_s is None else plain.tokens_per_s * row.throughput_ratio
        out.append(row)
    return out


def _num(x: float | None) -> float:
    return math.nan if x is None else x


def _decode_rows(cfg: BenchConfig, device: torch.device, memory: PeakMemory, say: Callable[[str], None]) -> list[Row]:
    model, sources, bos = _decoding_model(cfg, device)
    src_tokens = sum(len(s) - 2 for s in sources)  # without tag and </s>
    autocast = autocast_factory(cfg.precision, device)
    outputs: dict[str, list[list[int]]] = {}

    def decoder(beam: int, name: str) -> Callable[[], None]:
        dcfg = DecodeConfig(beam=beam, lenpen=1.0, batch_tokens=cfg.max_tokens)

        def run() -> None:
            with autocast():
                outputs[name] = translate_ids(model, sources, bos, dcfg, EOS_ID, PAD_ID, device)

        return run

    beam_name = f"beam{cfg.beam}"
    cases = {"greedy": decoder(1, "greedy"), beam_name: decoder(cfg.beam, beam_name)}
    say(f"bench: decoding {len(sources)} sentences, 1 warm-up + {cfg.decode_repeats} rounds")
    times = interleaved(cases, max(cfg.decode_repeats, 1), 1, {}, device)
    peaks = {name: memory.measure(fn) for name, fn in cases.items()}
    rows = []
    for name, t in times.items():
        hyps = outputs[name]
        tokens = sum(len(h) + 1 for h in hyps)  # each hypothesis with its </s>
        row = _timed_row(name, LABELS.get(name, f"beam-{cfg.beam} decoding"), "decode", t, None, peaks[name], {
            "sentences": len(sources),
            "output_tokens_with_eos": tokens,
            "length_ratio": sum(len(h) for h in hyps) / max(src_tokens, 1),
        })
        row.tokens_per_s = tokens / row.seconds
        rows.append(row)
    return rows


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
    lines += ["", f"memory: {result.memory_method}", "targets:"]
    for t in result.targets():
        high, low = t["high"], t["low"]
        bound = f">= {low}" if high is None else f"<= {high}" if low is None else f"in [{low}, {high}]"
        line = f"  {t['row']:10s} {t['column']:16s} {_fmt(t['value'], '.3f'):>6s} {bound:14s} {'met' if t['met'] else 'NOT MET':8s}"
        if on_cpu:
            line += f" (cpu time: {_fmt(t['cpu_time_value'], '.3f')}, {'met' if t['cpu_time_met'] else 'NOT MET'})"
        lines.append(line)
    return "\n".join(lines)
