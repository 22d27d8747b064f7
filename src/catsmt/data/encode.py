"""Encoding corpus chunks into token arrays, in this process or over worker processes.

:func:`encode_chunk` turns one :class:`~catsmt.data.lines.PairChunk` into flat token arrays
in the cache's layout (sources ``[<2tgt>] + pieces + [</s>]``, targets the pieces alone; for
training data the pairs with an empty side or a side over ``max_len`` pieces dropped).
:func:`encode_chunks` maps it over the chunks of a corpus **in order**, over ``workers``
processes (:func:`catsmt.data.workers.ordered_map`), so the result is the same array, byte
for byte, whatever the number of workers, and memory is bounded by a few chunks.
SentencePiece runs one thread per process: the parallelism is the workers'.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import chain

import numpy as np
import sentencepiece as spm

from catsmt.data.lines import PairChunk
from catsmt.data.workers import ordered_map

_ENCODE_BATCH = 8192
"""Lines handed to SentencePiece at once (its Python lists of ids are the big temporary)."""


@dataclass(frozen=True)
class EncodeJob:
    """One chunk to encode and how.

    Attributes:
        chunk: the lines.
        train: drop pairs with an empty side or a side over ``max_len`` pieces, and return the
            indices of the pairs kept; otherwise keep every pair and return its text.
        src_tag: the id that starts every source (the target-language tag), or None.
        eos_id: the id that ends every source.
        max_len: see ``train``.
        dtype: the cache's token dtype (``uint16`` or ``int32``).
    """

    chunk: PairChunk
    train: bool
    src_tag: int | None
    eos_id: int
    max_len: int
    dtype: str


@dataclass
class EncodedChunk:
    """One encoded chunk: flat tokens and per-sentence lengths of each side.

    Attributes:
        src, tgt: all token ids of the chunk's sources / targets, concatenated.
        src_len, tgt_len: ``(n,)`` int64 lengths.
        lines: lines read (before any pair was dropped).
        keep: for training data, the corpus index of each pair kept.
        text: for held-out data, the source and target lines.
    """

    src: np.ndarray
    tgt: np.ndarray
    src_len: np.ndarray
    tgt_len: np.ndarray
    lines: int
    keep: np.ndarray | None = None
    text: tuple[list[str], list[str]] | None = None


def _pieces(sp: spm.SentencePieceProcessor, lines: list[str], dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """Flat piece ids and lengths of ``lines``."""
    flats, lens = [], []
    for a in range(0, len(lines), _ENCODE_BATCH):
        ids = sp.encode(lines[a : a + _ENCODE_BATCH], out_type=int, num_threads=1)
        n = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
        flats.append(np.fromiter(chain.from_iterable(ids), dtype=dtype, count=int(n.sum())))
        lens.append(n)
    if not flats:
        return np.zeros(0, dtype=dtype), np.zeros(0, dtype=np.int64)
    return np.concatenate(flats), np.concatenate(lens)


def _framed(tokens: np.ndarray, lens: np.ndarray, head: int | None, eos: int) -> tuple[np.ndarray, np.ndarray]:
    """Each sentence as ``[head] + pieces + [eos]`` (``head`` left out when None)."""
    extra = 2 if head is not None else 1
    new_lens = lens + extra
    ends = np.cumsum(new_lens)
    out = np.empty(int(ends[-1]) if len(ends) else 0, dtype=tokens.dtype)
    piece = np.ones(len(out), dtype=bool)
    out[ends - 1] = eos
    piece[ends - 1] = False
    if head is not None:
        starts = ends - new_lens
        out[starts] = head
        piece[starts] = False
    out[piece] = tokens
    return out, new_lens


def encode_chunk(sp: spm.SentencePieceProcessor, job: EncodeJob) -> EncodedChunk:
    """Encode one chunk (see :class:`EncodeJob`)."""
    src_text, tgt_text = job.chunk.read()
    src, src_len = _pieces(sp, src_text, job.dtype)
    tgt, tgt_len = _pieces(sp, tgt_text, job.dtype)
    keep = None
    if job.train:
        ok = (src_len > 0) & (src_len <= job.max_len) & (tgt_len > 0) & (tgt_len <= job.max_len)
        keep = job.chunk.first + np.flatnonzero(ok)
        src, src_len = src[np.repeat(ok, src_len)], src_len[ok]
        tgt, tgt_len = tgt[np.repeat(ok, tgt_len)], tgt_len[ok]
    src, src_len = _framed(src, src_len, job.src_tag, job.eos_id)
    text = None if job.train else (src_text, tgt_text)
    return EncodedChunk(src, tgt, src_len, tgt_len, len(src_text), keep, text)


# -- worker processes --------------------------------------------------------------------
_WORKER: dict[str, spm.SentencePieceProcessor] = {}


def _load_model(model_proto: bytes) -> None:
    _WORKER["sp"] = spm.SentencePieceProcessor(model_proto=model_proto)


def _encode_in_worker(job: EncodeJob) -> EncodedChunk:
    return encode_chunk(_WORKER["sp"], job)


def encode_chunks(
    model_proto: bytes, jobs: Iterable[EncodeJob], workers: int, sp: spm.SentencePieceProcessor | None = None
) -> Iterator[EncodedChunk]:
    """:func:`encode_chunk` of every job, yielded in the jobs' order (:func:`ordered_map`).

    Args:
        model_proto: the SentencePiece model, for the worker processes.
        jobs: the chunks to encode.
        workers: processes; 1 (or a single job) encodes in this process.
        sp: the model already loaded in this process (loaded from ``model_proto`` if None).
    """
    jobs = list(jobs)
    if workers <= 1 or len(jobs) <= 1:
        sp = sp or spm.SentencePieceProcessor(model_proto=model_proto)
        for job in jobs:
            yield encode_chunk(sp, job)
        return
    yield from ordered_map(_encode_in_worker, jobs, workers, _load_model, (model_proto,))
