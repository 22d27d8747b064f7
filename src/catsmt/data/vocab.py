"""The shared subword vocabulary: one SentencePiece model for all languages plus ``<2xx>`` tags.

The model is trained on a temperature-balanced sample of the training data (Arivazhagan et
al., 2019, Sec. 4.2: sample each task with ``p_n ∝ |D_n|^(1/T)`` so that low-resource
languages get enough pieces), taking both sides of every sampled pair. Special ids are fixed
so that every part of catsmt can rely on them: ``<pad>`` = 0, ``<unk>`` = 1, ``<s>`` = 2
(reserved, the model never uses it) and ``</s>`` = 3; the language tags follow as
user-defined symbols, one per language that appears on either side of any task.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import sentencepiece as spm

from catsmt.data.errors import DataError
from catsmt.data.lines import PairLines
from catsmt.data.sampling import temperature_probs
from catsmt.files import write_atomic

PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3
_TAG = re.compile(r"^<2(.+)>$")
_SMALL_ALPHABET = 1000  # up to this many distinct characters, all of them get a piece


def tag_piece(lang: str) -> str:
    """The tag token of a target language: ``<2bel>``."""
    return f"<2{lang}>"


def sample_indices(
    sizes: Mapping[str, int], sample_size: int, temperature: float, seed: int
) -> dict[str, np.ndarray]:
    """Which training pairs the vocabulary sample takes: task -> pair indices, in sample order.

    Task ``n`` gets a share ``p_n ∝ |D_n|^(1/T)`` of ``sample_size`` sentences, taken as
    ``p_n * sample_size / 2`` pairs with both sides kept (so the pivot language of o2m/m2o is
    about half of the sample). A task whose share exceeds its data is repeated (that is the
    upsampling temperature asks for). The total is capped at the number of sentences in the
    corpus, which keeps training fast on small corpora. Depends only on the sizes and the
    seed, so the pairs can be read afterwards from files, chunk by chunk.

    Raises:
        DataError: no task has a training pair.
    """
    sizes = {task: int(n) for task, n in sizes.items() if n > 0}
    if not sizes:
        raise DataError("cannot train a vocabulary: the training split has no sentences")
    probs = temperature_probs(sizes, temperature)
    n_pairs = min(sample_size, 2 * sum(sizes.values())) // 2
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x5E7]))
    out: dict[str, np.ndarray] = {}
    for task in sorted(sizes):
        want = max(1, round(probs[task] * n_pairs))
        full, rest = divmod(want, sizes[task])
        out[task] = np.concatenate(
            [rng.permutation(sizes[task]) for _ in range(full)]
            + [rng.choice(sizes[task], size=rest, replace=False)]
        )
    return out


def vocab_sample(
    pairs: Mapping[str, tuple[Sequence[str], Sequence[str]] | PairLines],
    sample_size: int,
    temperature: float,
    seed: int,
) -> list[str]:
    """The sentences SentencePiece is trained on: a temperature-balanced sample of the tasks
    (:func:`sample_indices`), both sides of each pair, grouped by task in sorted task order.

    Args:
        pairs: task -> the training data, as (source lines, target lines) or as checked
            chunks of files (:class:`~catsmt.data.lines.PairLines`: only the chunks holding a
            sampled pair are read, so memory is bounded by the sample).
        sample_size: sentences wanted over all tasks and both sides.
        temperature: ``T``; 1 = proportional to data size, ``inf`` = uniform.
        seed: the sample is a deterministic function of the data and the seed.
    """
    sizes = {task: _size(data) for task, data in pairs.items()}
    out: list[str] = []
    for task, idx in sample_indices(sizes, sample_size, temperature, seed).items():
        data = pairs[task]
        if isinstance(data, PairLines):
            picked = data.pick(idx)
            for i in idx.tolist():
                out.extend(picked[i])
        else:
            src, tgt = data
            for i in idx.tolist():
                out.append(src[i])
                out.append(tgt[i])
    return out


def _size(data: tuple[Sequence[str], Sequence[str]] | PairLines) -> int:
    return data.size if isinstance(data, PairLines) else len(data[0])


class Vocab:
    """A SentencePiece model shared by all languages, with ``<2xx>`` language tags.

    Ids: ``pad_id`` = 0, ``unk_id`` = 1, 2 reserved for ``<s>``, ``eos_id`` = 3, then the tags.
    Build one with :meth:`train` or :meth:`load`.
    """

    def __init__(self, model_proto: bytes) -> None:
        self._sp = spm.SentencePieceProcessor(model_proto=model_proto)
        self._proto = model_proto
        fixed = (self._sp.pad_id(), self._sp.unk_id(), self._sp.bos_id(), self._sp.eos_id())
        if fixed != (PAD_ID, UNK_ID, BOS_ID, EOS_ID):
            raise DataError(
                f"not a catsmt vocabulary: special ids (pad, unk, bos, eos) are {fixed}, "
                f"expected {(PAD_ID, UNK_ID, BOS_ID, EOS_ID)}"
            )
        self._tags: dict[str, int] = {}
        for i in range(EOS_ID + 1, self.size):  # the tags come right after the specials
            match = _TAG.match(self._sp.id_to_piece(i))
            if match is None:
                break
            self._tags[match.group(1)] = i
        self._tag_ids = frozenset(self._tags.values())

    # -- construction ------------------------------------------------------------------
    @classmethod
    def train(
        cls,
        path: str | Path,
        pairs: Mapping[str, tuple[Sequence[str], Sequence[str]] | PairLines],
        langs: Iterable[str],
        *,
        vocab_size: int,
        model_type: str = "unigram",
        sample_size: int = 200000,
        temperature: float = 5.0,
        seed: int = 1,
    ) -> Vocab:
        """Train a shared SentencePiece model and write it (atomically) to ``path``.

        ``vocab_size`` is an upper bound: a corpus too small to support it gets a smaller
        vocabulary (SentencePiece's ``hard_vocab_limit=False``) rather than an error. Every
        character of the sample gets a piece unless the sample has more than 1,000 distinct
        characters (Chinese, Japanese...); then the rarest 0.05% become ``<unk>``, as usual.

        Args:
            path: the ``.model`` file to write.
            pairs: task -> the training split, as lists or checked chunks (see
                :func:`vocab_sample`).
            langs: every language that gets a ``<2xx>`` tag (both sides of every task).
            vocab_size: wanted number of pieces, specials and tags included.
            model_type: ``unigram`` or ``bpe``.
            sample_size: sentences sampled for training, see :func:`vocab_sample`.
            temperature: temperature of that sample.
            seed: seed of that sample.

        Raises:
            DataError: no training text, or a ``vocab_size`` too small for the alphabet.
        """
        if model_type not in ("unigram", "bpe"):
            raise DataError(f"vocab_model must be 'unigram' or 'bpe', got '{model_type}'")
        tags = [tag_piece(lang) for lang in sorted(set(langs))]
        sentences = vocab_sample(pairs, sample_size, temperature, seed)
        alphabet = len(set("".join(sentences)))
        coverage = 1.0 if alphabet <= _SMALL_ALPHABET else 0.9995
        proto = io.BytesIO()
        try:
            spm.SentencePieceTrainer.train(
                sentence_iterator=iter(sentences),
                model_writer=proto,
                vocab_size=vocab_size,
                model_type=model_type,
                pad_id=PAD_ID,
                unk_id=UNK_ID,
                bos_id=BOS_ID,
                eos_id=EOS_ID,
                user_defined_symbols=tags,
                hard_vocab_limit=False,
                character_coverage=coverage,
                input_sentence_size=0,
                shuffle_input_sentence=False,
                num_threads=min(8, os.cpu_count() or 1),
                minloglevel=2,
            )
        except RuntimeError as err:
            raise DataError(
                f"SentencePiece training failed with vocab_size={vocab_size} "
                f"({len(tags)} language tags + 4 specials included): {err}"
            ) from err
        vocab = cls(proto.getvalue())
        vocab.save(path)
        return vocab

    @classmethod
    def load(cls, path: str | Path) -> Vocab:
        """Load a model written by :meth:`train` or :meth:`save`.

        Raises:
            DataError: the file is missing or is not a catsmt vocabulary.
        """
        path = Path(path)
        if not path.is_file():
            raise DataError(f"vocabulary file '{path}' does not exist")
        try:
            return cls(path.read_bytes())
        except RuntimeError as err:  # sentencepiece cannot parse it
            raise DataError(f"'{path}' is not a SentencePiece model: {err}") from err

    def save(self, path: str | Path) -> None:
        """Write the model to ``path`` atomically (see :func:`catsmt.files.write_atomic`)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, self._proto)

    # -- ids -----------------------------------------------------------------------------
    @property
    def size(self) -> int:
        """Number of ids (the model's output dimension)."""
        return int(self._sp.get_piece_size())

    @property
    def pad_id(self) -> int:
        return PAD_ID

    @property
    def unk_id(self) -> int:
        return UNK_ID

    @property
    def bos_id(self) -> int:
        """Reserved; catsmt models start decoding with the target-language tag instead."""
        return BOS_ID

    @property
    def eos_id(self) -> int:
        return EOS_ID

    @property
    def model_proto(self) -> bytes:
        """The serialized SentencePiece model (what :meth:`save` writes)."""
        return self._proto

    @property
    def processor(self) -> spm.SentencePieceProcessor:
        """The loaded SentencePiece model."""
        return self._sp

    @property
    def langs(self) -> list[str]:
        """Languages that have a tag, sorted."""
        return sorted(self._tags)

    @property
    def digest(self) -> str:
        """A hash of the model file (part of the binarized cache key)."""
        return hashlib.sha256(self._proto).hexdigest()

    def tag_id(self, lang: str) -> int:
        """The id of ``<2lang>``.

        Raises:
            DataError: ``lang`` has no tag in this vocabulary.
        """
        try:
            return self._tags[lang]
        except KeyError:
            raise DataError(
                f"language '{lang}' has no tag in the vocabulary; tagged languages: "
                f"{', '.join(self.langs)}"
            ) from None

    # -- text --------------------------------------------------------------------------
    def encode(self, text: str) -> list[int]:
        """Subword ids of ``text``, without tag or ``</s>``."""
        return list(self._sp.encode(text, out_type=int))

    def encode_many(self, texts: Sequence[str]) -> list[list[int]]:
        """:meth:`encode` of many lines at once (multi-threaded inside SentencePiece)."""
        if not texts:
            return []
        return [
            list(ids)
            for ids in self._sp.encode(list(texts), out_type=int, num_threads=os.cpu_count() or 1)
        ]

    def decode(self, ids: Iterable[int]) -> str:
        """Detokenized text of ``ids``: stops at the first ``</s>``, drops pad, ``<s>`` and tags.

        ``ids`` may be a list or a 1-d tensor / array.
        """
        values = ids.tolist() if hasattr(ids, "tolist") else ids
        kept: list[int] = []
        for i in values:
            i = int(i)
            if i == EOS_ID:
                break
            if i in (PAD_ID, BOS_ID) or i in self._tag_ids:
                continue
            kept.append(i)
        return str(self._sp.decode(kept))

    def __repr__(self) -> str:
        return f"Vocab(size={self.size}, langs={self.langs})"
