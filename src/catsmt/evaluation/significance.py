"""Paired bootstrap resampling between two systems, per language and on group averages.

Per language the test is sacrebleu's own (``sacrebleu.significance.PairedTest`` with
``test_type="bs"``), so a p-value here is the one ``sacrebleu --paired-bs`` prints.

On an average over languages (the paper's *All* and *Lo* columns) we run the same test on
the statistic "mean over languages of per-language corpus BLEU":

1. one ``numpy.random.default_rng(seed)``; for each language in sorted order it draws an
   ``(n_samples, n_lang)`` matrix of sentence indices with replacement, exactly as
   sacrebleu does for one test set. Languages are resampled independently of each other
   (a stratified bootstrap), and both systems use the same indices (paired);
2. sample ``b`` of the average is the mean over languages of each language's corpus
   score on its ``b``-th resample, computed by sacrebleu's metric from the resampled
   sufficient statistics;
3. the p-value is sacrebleu's: with ``d_b = |avg_A(b) - avg_B(b)|`` and the observed
   ``d = |avg_A - avg_B|``, ``p = (#{b : d_b - mean(d) > d} + 1) / (n_samples + 1)``.

With a single language this reproduces sacrebleu's per-language p-value exactly. With
several, each language gets a different draw than in its own per-language test, so the
p-value of a one-language group average agrees with that language's only in distribution.

sacrebleu's p-value has one quirk: for two *identical* outputs every ``d_b`` is 0, no
sample exceeds 0, and ``p = 1 / (n_samples + 1)``. We keep that p-value, so it still
agrees with sacrebleu, but never call a zero observed difference significant.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TypedDict, cast

import numpy as np
from sacrebleu.metrics.base import Metric
from sacrebleu.significance import PairedTest, Result

from catsmt.evaluation.scores import (
    GROUPS,
    METRICS,
    check_languages,
    check_pair,
    check_same_languages,
)

#: sacrebleu's defaults for the paired bootstrap.
DEFAULT_SAMPLES = 1000
DEFAULT_SEED = 12345
#: Significance level behind the tables' ``*``.
ALPHA = 0.05


class PairedResult(TypedDict):
    """Outcome of one paired test of system A against system B."""

    p: float
    delta: float  # score(A) - score(B)
    significant: bool  # p < alpha and delta != 0


def bootstrap_p_value(samples_a: np.ndarray, samples_b: np.ndarray, observed_delta: float) -> float:
    """sacrebleu's paired-bootstrap p-value from paired resampled scores.

    Args:
        samples_a: ``(n_samples,)`` scores of system A on the resamples.
        samples_b: ``(n_samples,)`` scores of system B on the same resamples.
        observed_delta: the difference of the scores on the full test set.

    Returns:
        ``(#{b : |a_b - b_b| - mean_b |a_b - b_b| > |observed_delta|} + 1) / (n + 1)``.
    """
    sample_diffs = np.abs(samples_a - samples_b)
    centred = sample_diffs - sample_diffs.mean()
    exceed = int(np.sum(centred > abs(observed_delta)))
    return (exceed + 1) / (len(centred) + 1)


@contextmanager
def _sacrebleu_seed(seed: int) -> Iterator[None]:
    """Set ``SACREBLEU_SEED``, the only way to seed ``PairedTest``, and restore it after;
    meanwhile keep sacrebleu's logger to warnings (it logs four INFO lines per test)."""
    old = os.environ.get("SACREBLEU_SEED")
    os.environ["SACREBLEU_SEED"] = str(seed)
    sb_log = logging.getLogger("sacrebleu")
    old_level = sb_log.level
    sb_log.setLevel(max(old_level, logging.WARNING))
    try:
        yield
    finally:
        sb_log.setLevel(old_level)
        if old is None:
            del os.environ["SACREBLEU_SEED"]
        else:
            os.environ["SACREBLEU_SEED"] = old


def sacrebleu_paired_bs(
    hyps_a: Sequence[str],
    hyps_b: Sequence[str],
    refs: Sequence[str],
    metric: str = "bleu",
    n_samples: int = DEFAULT_SAMPLES,
    seed: int = DEFAULT_SEED,
) -> tuple[float, float, float]:
    """Run sacrebleu's paired bootstrap test of A against baseline B on one test set.

    Returns:
        ``(score_a, score_b, p)``.
    """
    with _sacrebleu_seed(seed):
        test = PairedTest(
            [("B", list(hyps_b)), ("A", list(hyps_a))],
            {metric: METRICS[metric]()},
            [list(refs)],
            test_type="bs",
            n_samples=n_samples,
        )
        _, table = test()
    # table: {"System": ["B", "A"], <metric name>: [Result(B), Result(A)]}
    (name,) = [key for key in table if key != "System"]
    result_b, result_a = (cast(Result, r) for r in table[name])
    assert result_a.p_value is not None
    return float(result_a.score), float(result_b.score), float(result_a.p_value)


def _resampled_scores(
    metric: Metric, hyps: Sequence[str], refs: Sequence[str], counts: np.ndarray
) -> tuple[float, np.ndarray]:
    """Corpus score of ``hyps`` and its score on each resample.

    Args:
        counts: ``(n_samples, n)``: how often each sentence occurs in each resample.

    Returns:
        ``(score, samples)`` with ``samples`` of shape ``(n_samples,)``.
    """
    stats = metric._extract_corpus_statistics(list(hyps), [list(refs)])
    score = float(metric._aggregate_and_compute(stats).score)
    # (n_samples, n) @ (n, n_stats): integer counts, exact in float64; sacrebleu sums the
    # same integers in float32 and scores the float32 vector, so we hand it float32 too.
    sums = (counts @ np.asarray(stats, dtype=np.float64)).astype(np.float32)
    samples = np.array([metric._compute_score_from_stats(row).score for row in sums])
    return score, samples


def _result(p: float, delta: float, alpha: float) -> PairedResult:
    return {"p": p, "delta": delta, "significant": bool(p < alpha and delta != 0.0)}


def paired_bootstrap(
    sys_a: Mapping[str, Sequence[str]],
    sys_b: Mapping[str, Sequence[str]],
    refs: Mapping[str, Sequence[str]],
    groups: Mapping[str, str] | None = None,
    *,
    metric: str = "bleu",
    n_samples: int = DEFAULT_SAMPLES,
    seed: int = DEFAULT_SEED,
    alpha: float = ALPHA,
) -> dict[str, PairedResult]:
    """Paired bootstrap test of system A against system B per language and on averages.

    Args:
        sys_a: language -> hypotheses of system A (e.g. CATS).
        sys_b: language -> hypotheses of system B (e.g. the strongest baseline).
        refs: language -> references.
        groups: language -> ``"low"``/``"mid"``/``"high"``; when given, the languages
            must be exactly its keys and the group averages are tested too.
        metric: ``"bleu"`` or ``"chrf"``.
        n_samples: bootstrap resamples (sacrebleu's default 1000).
        seed: RNG seed, a positive integer (sacrebleu's default 12345; sacrebleu reads 0
            as "unseeded").
        alpha: significance level.

    Returns:
        ``{lang: ..., "avg_all": ..., "avg_low": ..., "avg_high": ...}`` (``avg_<group>``
        for each non-empty group), each ``{"p", "delta", "significant"}`` with
        ``delta = score(A) - score(B)``. Per-language p-values are sacrebleu's.

    Raises:
        ValueError: for an unknown metric, a bad ``n_samples``/``seed``, a language missing
        from one of the inputs, or hypotheses and references of different lengths.
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric '{metric}'; valid metrics: {', '.join(METRICS)}")
    if isinstance(n_samples, bool) or not isinstance(n_samples, int) or n_samples < 1:
        raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 1:
        raise ValueError(f"seed must be a positive integer, got {seed!r}")
    if groups is None:
        langs = check_same_languages("refs", refs, sys_a=sys_a, sys_b=sys_b)
    else:
        langs = check_languages(groups, sys_a=sys_a, sys_b=sys_b, refs=refs)
    if not langs:
        raise ValueError("no languages to compare")
    for lang in langs:
        check_pair(lang, sys_a[lang], refs[lang])
        check_pair(lang, sys_b[lang], refs[lang])

    out: dict[str, PairedResult] = {}
    for lang in langs:
        score_a, score_b, p = sacrebleu_paired_bs(
            sys_a[lang], sys_b[lang], refs[lang], metric, n_samples, seed
        )
        out[lang] = _result(p, score_a - score_b, alpha)

    # Averages: our own resampling, one generator, languages in sorted order.
    rng = np.random.default_rng(seed)
    scorer = METRICS[metric]()
    real: dict[str, tuple[float, float]] = {}
    samples: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for lang in sorted(langs):
        n = len(refs[lang])
        idxs = rng.choice(n, size=(n_samples, n), replace=True)  # as sacrebleu draws them
        offsets = np.arange(n_samples)[:, None] * n
        counts = np.bincount((idxs + offsets).ravel(), minlength=n_samples * n)
        counts = counts.reshape(n_samples, n).astype(np.float64)  # (n_samples, n)
        score_a, samples_a = _resampled_scores(scorer, sys_a[lang], refs[lang], counts)
        score_b, samples_b = _resampled_scores(scorer, sys_b[lang], refs[lang], counts)
        real[lang] = (score_a, score_b)
        samples[lang] = (samples_a, samples_b)

    members = {"all": langs}
    if groups is not None:
        for group in GROUPS:
            in_group = [lang for lang in langs if groups[lang] == group]
            if in_group:
                members[group] = in_group
    for key, group_langs in members.items():
        avg_a = float(np.mean([real[lang][0] for lang in group_langs]))
        avg_b = float(np.mean([real[lang][1] for lang in group_langs]))
        samples_a = np.mean([samples[lang][0] for lang in group_langs], axis=0)
        samples_b = np.mean([samples[lang][1] for lang in group_langs], axis=0)
        delta = avg_a - avg_b
        out[f"avg_{key}"] = _result(bootstrap_p_value(samples_a, samples_b, delta), delta, alpha)
    return out
