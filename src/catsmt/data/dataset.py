"""The data side of a run in one object: corpus -> vocabulary -> binarized cache -> batches.

:func:`prepare_data` is what the trainer, the decoder and the evaluator call. Everything it
computes is cached under ``cfg.cache_dir`` (default ``cfg.dir/.catsmt-cache``)::

    files.json              content hashes of the corpus files, by path, size and mtime
    spm-<key>.model         the SentencePiece model (key: corpus, vocab settings, seed)
    data-<key>/             the binarized arrays (key: corpus, vocabulary file, max_len,
                            source_tag), see :mod:`catsmt.data.binarize`

The corpus is identified by the content of the files under ``cfg.dir`` together with the
reader settings (``format``, ``direction``, ``pivot``, ``langs``, ``pairs``), so when the
cache is complete a run neither reads nor tokenizes the corpus: it stats the files, loads the
vocabulary and memory-maps the arrays.

Building the cache streams: the files are checked and indexed in one pass
(:func:`catsmt.data.corpus.corpus_lines`), the vocabulary reads only the chunks holding its
sample, and binarizing encodes chunk by chunk over ``cfg.workers`` processes. Peak memory does
not grow with the corpus (benchmarks/data_scale.py measures it).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import sentencepiece as spm

from catsmt.data.batch import LangBatch
from catsmt.data.binarize import (
    Binarized,
    CorpusLike,
    TaskArrays,
    binarize,
    cache_dir,
    cache_key,
    files_digest,
    is_built,
    load_binarized,
)
from catsmt.data.config import DataConfig
from catsmt.data.corpus import CorpusLines, corpus_lines, read_corpus
from catsmt.data.errors import DataError
from catsmt.data.sampler import BatchSampler, length_batches
from catsmt.data.vocab import Vocab
from catsmt.data.workers import default_workers

log = logging.getLogger(__name__)


def _recorded_groups(directory: Path) -> dict[str, str]:
    """Language -> group as recorded by the recipe that built ``directory`` (its stats.json)."""
    try:
        stats = json.loads((directory / "stats.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    groups = stats.get("groups") if isinstance(stats, dict) else None
    if not isinstance(groups, dict):
        return {}
    return {lang: str(g) for g, langs in groups.items() if isinstance(langs, list) for lang in langs}


def cache_root(cfg: DataConfig) -> Path:
    """Where the vocabulary and binarized data of ``cfg`` are cached."""
    return Path(cfg.cache_dir) if cfg.cache_dir else Path(cfg.dir) / ".catsmt-cache"


def prepare_data(cfg: DataConfig, seed: int = 1) -> MultilingualData:
    """Read the corpus, train or load the vocabulary, binarize or load the arrays.

    Args:
        cfg: the data section.
        seed: seed of the vocabulary's training sample (part of its cache key).

    Returns:
        The data of every task, ready for sampling and evaluation.

    Raises:
        DataError: an invalid setting, a missing or malformed corpus (from the reader, naming
            the file and line), or a ``low_resource`` language that is not a task.
    """
    try:
        cfg.validate()
    except ValueError as err:
        raise DataError(f"invalid data config: {err}") from err
    root = cache_root(cfg)
    files = files_digest(Path(cfg.dir), exclude=[root], memo=root / "files.json")
    reader = [cfg.format, cfg.direction, cfg.pivot, sorted(cfg.langs), list(cfg.pairs)]
    corpus_key = cache_key("corpus", reader, files)
    lines = _CheckedOnce(cfg)  # the corpus is read only if something must be built
    vocab = _vocabulary(cfg, root, corpus_key, seed, lines)
    entry = cache_dir(root, corpus_key, vocab, cfg.max_len, cfg.source_tag)
    data = load_binarized(entry) if is_built(entry) else _binarized(cfg, root, corpus_key, vocab, lines())
    return MultilingualData(cfg, vocab, data)  # the raw training text is re-read if asked for


class _CheckedOnce:
    """The corpus checked and indexed (:func:`corpus_lines`) on first call, then remembered."""

    def __init__(self, cfg: DataConfig) -> None:
        self._cfg = cfg
        self._lines: CorpusLines | None = None

    def __call__(self) -> CorpusLines:
        if self._lines is None:
            start = time.perf_counter()
            self._lines = corpus_lines(self._cfg, progress=True, workers=self._cfg.workers or default_workers())
            log.info("checked the corpus files in %.1f s", time.perf_counter() - start)
        return self._lines


def _vocabulary(cfg: DataConfig, root: Path, corpus_key: str, seed: int, lines: _CheckedOnce) -> Vocab:
    """The cached vocabulary of this corpus and these settings, trained first if missing."""
    vocab_key = cache_key(
        "vocab",
        corpus_key,
        cfg.vocab_size,
        cfg.vocab_model,
        cfg.vocab_sample,
        cfg.vocab_temperature,
        seed,
        spm.__version__,
    )
    path = root / f"spm-{vocab_key}.model"
    if path.is_file():
        vocab = Vocab.load(path)
    else:
        corpus = lines()
        log.info(
            "training a vocabulary of up to %d pieces (data.vocab_size) on %s",
            cfg.vocab_size, ", ".join(corpus.tasks),
        )
        start = time.perf_counter()
        vocab = Vocab.train(
            path,
            corpus.lines["train"],
            {lang for pair in corpus.pairs.values() for lang in pair},
            vocab_size=cfg.vocab_size,
            model_type=cfg.vocab_model,
            sample_size=cfg.vocab_sample,
            temperature=cfg.vocab_temperature,
            seed=seed,
        )
        log.info("vocabulary trained in %.1f s", time.perf_counter() - start)
    if vocab.size < cfg.vocab_size:  # SentencePiece stops where the corpus runs out of pieces
        log.warning(
            "data.vocab_size is %d, but this corpus supports only %d pieces: using a %d-piece vocabulary",
            cfg.vocab_size, vocab.size, vocab.size,
        )
    else:
        log.info("vocabulary: %d pieces", vocab.size)
    return vocab


def _binarized(cfg: DataConfig, root: Path, corpus_key: str, vocab: Vocab, lines: CorpusLines) -> Binarized:
    """Binarize the corpus over ``cfg.workers`` processes into the cache, logging the rate."""
    workers = cfg.workers or default_workers()
    total = sum(sum(lines.sizes(split).values()) for split in lines.lines)
    log.info("binarizing %s (%d lines) with %d workers", ", ".join(lines.tasks), total, workers)
    start = time.perf_counter()
    data = binarize(lines, vocab, root, max_len=cfg.max_len, source_tag=cfg.source_tag,
                    corpus_key=corpus_key, workers=workers, progress=True)
    seconds = time.perf_counter() - start
    log.info("binarized %d lines in %.1f s (%.0f lines/s, %d workers) into %s", total, seconds,
             total / max(seconds, 1e-9), workers, data.path)
    for task, n in sorted(data.skipped.items()):
        if n:
            log.info("%s: skipped %d training pairs (empty or longer than %d)", task, n, cfg.max_len)
    return data


class MultilingualData:
    """Vocabulary, binarized splits and raw text of every task (see docs/design.md, Data).

    Build it with :func:`prepare_data`.

    Attributes:
        cfg: the data section it was built from.
        vocab: the shared vocabulary.
        langs: task names, sorted.
        skipped: task -> training pairs dropped by ``max_len`` (or empty).
    """

    def __init__(
        self, cfg: DataConfig, vocab: Vocab, data: Binarized, corpus: CorpusLike | None = None
    ) -> None:
        self.cfg = cfg
        self.vocab = vocab
        self.langs = list(data.tasks)
        self.skipped = dict(data.skipped)
        self._data = data
        self._corpus = corpus
        self.groups = self._groups()

    @property
    def cache_path(self) -> Path:
        """The binarized cache entry in use."""
        return self._data.path

    def _groups(self) -> dict[str, str]:
        if self.cfg.low_resource:
            unknown = sorted(set(self.cfg.low_resource) - set(self.langs))
            if unknown:
                raise DataError(
                    f"low_resource lists {', '.join(unknown)}, which are not tasks of this "
                    f"corpus; tasks: {', '.join(self.langs)}"
                )
            return {t: "low" if t in self.cfg.low_resource else "high" for t in self.langs}
        recorded = _recorded_groups(Path(self.cfg.dir))
        if all(t in recorded for t in self.langs):
            return {t: recorded[t] for t in self.langs}
        sizes = self.sizes("train") if "train" in self._data.data else {}
        return {
            t: "low" if sizes.get(t, 0) < self.cfg.low_threshold else "high" for t in self.langs
        }

    def _arrays(self, split: str, lang: str) -> TaskArrays:
        if lang not in self.langs:
            raise DataError(f"unknown language '{lang}'; tasks: {', '.join(self.langs)}")
        per_task = self._data.data.get(split, {})
        if lang not in per_task:
            have = sorted(s for s, tasks in self._data.data.items() if lang in tasks)
            raise DataError(
                f"language '{lang}' has no {split} set (it has: {', '.join(have) or 'none'})"
            )
        return per_task[lang]

    # -- the design.md API ---------------------------------------------------------------
    def sizes(self, split: str) -> dict[str, int]:
        """Sentence pairs of each task in ``split`` (training: after the ``max_len`` filter).

        Raises:
            DataError: no task has ``split``.
        """
        if split not in self._data.data:
            raise DataError(
                f"no '{split}' split in this corpus; splits: {', '.join(sorted(self._data.data))}"
            )
        return {task: len(arrays) for task, arrays in self._data.data[split].items()}

    def mean_pair_cost(self, split: str) -> float:
        """Mean padded size ``max(len(src), len(tgt) + 1)`` of the pairs of ``split``, over all
        tasks: how many pairs a token budget holds, on average."""
        costs = [self._arrays(split, lang).costs for lang in self.langs if lang in self._data.data.get(split, {})]
        total = sum(int(c.sum()) for c in costs)
        count = sum(len(c) for c in costs)
        return total / count if count else 0.0

    def pair(self, lang: str) -> tuple[str, str]:
        """``(source language, target language)`` of task ``lang``."""
        if lang not in self._data.pairs:
            raise DataError(f"unknown language '{lang}'; tasks: {', '.join(self.langs)}")
        return self._data.pairs[lang]

    def sampler(
        self, probs: Mapping[str, float], seed: int, rank: int = 0, world_size: int = 1
    ) -> BatchSampler:
        """A sampler of training batches over every task, see :class:`BatchSampler`."""
        return BatchSampler(
            self._data.data.get("train", {}),
            probs,
            max_tokens=self.cfg.max_tokens,
            langs_per_batch=self.cfg.langs_per_batch,
            seed=seed,
            rank=rank,
            world_size=world_size,
            min_part_tokens=self.cfg.min_part_tokens,
            pack_len=self.cfg.pack_len if self.cfg.pack else 0,
        )

    def batches(
        self, split: str, lang: str, max_tokens: int, max_sentences: int = 0
    ) -> Iterator[LangBatch]:
        """All pairs of one task and split in deterministic length-sorted batches (validation).

        Raises:
            DataError: an unknown task, or one without ``split``.
        """
        arrays = self._arrays(split, lang)
        for idx in length_batches(arrays, max_tokens, max_sentences):
            yield arrays.batch(idx)

    def sample_batch(
        self, split: str, lang: str, max_tokens: int, max_sentences: int = 0, seed: int = 0
    ) -> LangBatch:
        """One fixed random batch of a task's pairs (the analysis' training probe).

        The pairs are taken in the order of a permutation drawn from a generator of its own
        (``seed``; no global or training RNG is touched), as many as keep
        ``n * max(cost) <= max_tokens`` and ``n <= max_sentences`` (when > 0); at least one.

        Raises:
            DataError: an unknown task, or one without ``split``.
        """
        return self.sample_batches(split, lang, max_tokens, max_sentences, seed, count=1)[0]

    def sample_batches(
        self, split: str, lang: str, max_tokens: int, max_sentences: int = 0, seed: int = 0, count: int = 2
    ) -> list[LangBatch]:
        """``count`` disjoint fixed random batches: :meth:`sample_batch`'s, then the same rule
        applied to the rest of its permutation, and so on (fewer when the pairs run out).

        Raises:
            DataError: an unknown task, or one without ``split``.
        """
        arrays = self._arrays(split, lang)
        order = np.random.default_rng(seed).permutation(len(arrays))
        out: list[LangBatch] = []
        while len(out) < count and len(order):
            longest = np.maximum.accumulate(arrays.costs[order])  # (n,) padded width of the first k+1
            n = int((np.arange(1, len(order) + 1) * longest <= max_tokens).sum())  # a prefix: both grow
            if max_sentences > 0:
                n = min(n, max_sentences)
            n = max(n, 1)
            out.append(arrays.batch(order[:n]))
            order = order[n:]
        return out

    def raw(self, split: str, lang: str) -> tuple[list[str], list[str]]:
        """Source and reference text of one task and split.

        For ``train``, the pairs that were kept (aligned with :meth:`sizes`); valid and test are
        read from the cache, train from the corpus (read once, on first use).

        Raises:
            DataError: an unknown task, or one without ``split``.
        """
        self._arrays(split, lang)
        stored = self._data.raw(split, lang)
        if stored is not None:
            return stored
        if self._corpus is None:
            self._corpus = read_corpus(self.cfg)
        src, tgt = self._corpus.splits[split][lang]
        if split == "train":
            keep = self._data.kept(lang).tolist()
            return [src[i] for i in keep], [tgt[i] for i in keep]
        return list(src), list(tgt)

    def encode_source(self, texts: Sequence[str], lang: str) -> list[list[int]]:
        """Source ids as the model saw them in training: ``[<2tgt>] + pieces + [</s>]``.

        Sentences are not truncated to ``max_len``.
        """
        _, tgt = self.pair(lang)
        head = [self.vocab.tag_id(tgt)] if self.cfg.source_tag else []
        return [head + ids + [self.vocab.eos_id] for ids in self.vocab.encode_many(texts)]

    def target_tag(self, lang: str) -> int:
        """Id of the tag that starts the decoder input of task ``lang``."""
        return self.vocab.tag_id(self.pair(lang)[1])

    def __repr__(self) -> str:
        sizes = self.sizes("train") if "train" in self._data.data else {}
        return (
            f"MultilingualData({len(self.langs)} tasks, vocab {self.vocab.size}, "
            f"train pairs {sum(sizes.values())}, cache {self._data.path})"
        )
