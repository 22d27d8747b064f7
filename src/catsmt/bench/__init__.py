"""A benchmark suite: what each training step, a curvature product and decoding cost, side by side.

``run_bench(BenchConfig(...))`` measures, in one process, on synthetic data (no corpus needed):

* **training steps** through :func:`catsmt.training.step.train_step`, as the trainer runs them,
  of every registered weighting method (:mod:`catsmt.bench.cases`): plain training (the
  default method, temperature sampling), each method's step -- its update step where it
  takes the task-gradient path only on some steps (GradNorm, MultiDDS with its
  development-set gradient), and for CATS also the step between meta updates. Methods are
  built by the trainer's own helper, told the run's budget, and handed the update's losses
  when they observe them. CATS's cost at a meta-update interval ``m`` is derived from the
  measured medians: ``(t_meta + (m - 1) t_cats) / m``;
* **one Hessian-vector product** (:func:`catsmt.analysis.curvature.hvp`, math attention,
  fp32, on one language sub-batch of ``max_tokens / K`` tokens);
* **greedy and beam-search decoding** (:func:`catsmt.decoding.translate_ids`) in target tokens
  per second, counting each hypothesis's ``</s>``, by a model whose ``</s>`` is forced at the
  source's length (:mod:`catsmt.bench.decoding` says why);
* **the data loader**: one :meth:`catsmt.data.sampler.BatchSampler.next_batch` over ``N``
  languages of TED-like lengths (:mod:`catsmt.bench.data`);
* **peak memory** of each of these, by the method named in the output.

How it is measured, since the machines it runs on are shared and noisy
(:mod:`catsmt.bench.measure`): every case is warmed up, then the cases run *interleaved*, one
after another in a rotating order, for ``repeats`` rounds; in a round every training case
runs the same batch. A case's time is the median over rounds, and its ratio to plain
training is the median of the per-round ratios (paired: the two ran seconds apart on the
same batch), with the interquartile range of those ratios (:mod:`catsmt.bench.result`).
"""

from __future__ import annotations

from catsmt.bench.cases import BETWEEN_UPDATES, TrainCase, train_cases
from catsmt.bench.config import FIRST_TAG, PLAIN, PRECISIONS, BenchConfig
from catsmt.bench.data import EOS_ID, PAD_ID, SyntheticData, fixed_batches, synthetic_tasks
from catsmt.bench.decoding import EndsAtSourceLength
from catsmt.bench.measure import PeakMemory, interleaved
from catsmt.bench.result import (
    AMORTISED_M,
    TARGETS,
    BenchResult,
    Row,
    describe_environment,
    format_table,
)
from catsmt.bench.suite import run_bench

__all__ = [
    "AMORTISED_M",
    "BETWEEN_UPDATES",
    "EOS_ID",
    "FIRST_TAG",
    "PAD_ID",
    "PLAIN",
    "PRECISIONS",
    "TARGETS",
    "BenchConfig",
    "BenchResult",
    "EndsAtSourceLength",
    "PeakMemory",
    "Row",
    "SyntheticData",
    "TrainCase",
    "describe_environment",
    "fixed_batches",
    "format_table",
    "interleaved",
    "run_bench",
    "synthetic_tasks",
    "train_cases",
]
