"""The suite's synthetic data: TED-like sentence lengths, random token ids, fixed batches.

Batches: ``K = langs_per_batch`` sub-batches of distinct languages, each filled by the real
sampler to ``max_tokens / K`` padded tokens (or packed, with ``pack_len``) from random token
ids whose lengths follow a log-normal law (median 20, like TED subwords), so every
task-gradient step sees K languages (the most it can). :class:`SyntheticData` holds a
training and a validation split of them behind the part of
:class:`catsmt.data.MultilingualData` that the trainer's setup helpers read.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from catsmt.bench.config import FIRST_TAG, BenchConfig
from catsmt.data.batch import Batch, LangBatch
from catsmt.data.binarize import TaskArrays, TokenArray
from catsmt.data.sampler import BatchSampler, length_batches

PAD_ID, EOS_ID, UNK_ID = 1, 2, 3

MEDIAN_LENGTH = 20.0
"""Median sentence length in subwords of the synthetic data (TED talks with a 32k vocabulary)."""

LENGTH_SIGMA = 0.5
"""Log-normal spread of the lengths (about 9 to 45 subwords for 90% of sentences)."""

PAIRS_PER_LANG = 20_000
"""Synthetic training pairs per language: enough that the sampler's windows are real."""

VALID_PAIRS_PER_LANG = 1_000
"""Synthetic development pairs per language (a TED dev set holds 1-2 thousand)."""

POOL = 4
"""Distinct batches the training cases cycle through (the same one for every case in a round)."""


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


class SyntheticData:
    """A training and a validation split of synthetic tasks, answering the questions the
    trainer's setup helpers ask of :class:`catsmt.data.MultilingualData` -- ``langs``,
    ``sizes``, ``mean_pair_cost`` and ``batches`` -- with the same meaning, so that the suite
    builds a method's budget and MultiDDS's development gradient with the trainer's own code
    (:func:`catsmt.training.trainer._setup_weighting`, ``_setup_dev_grad``). There is no
    vocabulary: the token ids are random.
    """

    def __init__(self, train: dict[str, TaskArrays], valid: dict[str, TaskArrays]) -> None:
        if sorted(train) != sorted(valid):
            raise ValueError(f"the splits hold other languages: {sorted(train)} and {sorted(valid)}")
        self.splits = {"train": train, "valid": valid}
        self.langs = sorted(train)

    @classmethod
    def build(cls, cfg: BenchConfig, max_len: int) -> SyntheticData:
        """:data:`PAIRS_PER_LANG` training and :data:`VALID_PAIRS_PER_LANG` development pairs
        of each of the N languages, sentences at most ``max_len`` tokens."""
        train = synthetic_tasks(cfg.n_langs, cfg.vocab, PAIRS_PER_LANG, max_len, cfg.seed)
        valid = synthetic_tasks(cfg.n_langs, cfg.vocab, VALID_PAIRS_PER_LANG, max_len, cfg.seed + 7)
        return cls(train, valid)

    def sizes(self, split: str) -> dict[str, int]:
        """Sentence pairs of each language in ``split``."""
        return {lang: len(arrays) for lang, arrays in self.splits[split].items()}

    def mean_pair_cost(self, split: str) -> float:
        """Mean padded size ``max(len(src), len(tgt) + 1)`` of the pairs of ``split``."""
        costs = [arrays.costs for arrays in self.splits[split].values()]
        count = sum(len(c) for c in costs)
        return sum(int(c.sum()) for c in costs) / count if count else 0.0

    def batches(self, split: str, lang: str, max_tokens: int, max_sentences: int = 0) -> Iterator[LangBatch]:
        """All pairs of one language and split in length-sorted batches, as validation reads them."""
        arrays = self.splits[split][lang]
        for idx in length_batches(arrays, max_tokens, max_sentences):
            yield arrays.batch(idx)
