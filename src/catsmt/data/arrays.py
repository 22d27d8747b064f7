"""Token arrays of one split: sentences as one flat (memory-mapped) array plus offsets, and the
padded or packed batches built from them.

A cache entry (:mod:`catsmt.data.binarize`) stores each side of each split as a ``.tok.npy``
file of all token ids and an ``.off.npy`` file of ``n + 1`` offsets. Loaded, both are mapped,
not read: a batch reads the pages of its own sentences. The sentence lengths, which the
sampler needs for every pair, are computed once from the offsets in blocks, as ``int32``
(4 bytes a sentence instead of the 16 that int64 offsets and lengths would hold in RAM).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from catsmt.data.batch import LangBatch
from catsmt.data.errors import DataError
from catsmt.data.packing import pack_rows, packed_side

_LENGTH_BLOCK = 1 << 22
"""Offsets read at a time when computing lengths (32 MB of int64)."""


def lengths_of(offsets: np.ndarray) -> np.ndarray:
    """``(n,)`` int32 lengths ``offsets[i + 1] - offsets[i]``, without an int64 temporary of
    the whole array (``offsets`` may be memory-mapped)."""
    n = max(len(offsets) - 1, 0)
    out = np.empty(n, dtype=np.int32)
    for a in range(0, n, _LENGTH_BLOCK):
        b = min(a + _LENGTH_BLOCK, n)
        out[a:b] = np.diff(np.asarray(offsets[a : b + 1]))
    return out


def lengths_from_file(path: str | Path) -> np.ndarray:
    """:func:`lengths_of` the 1-d int64 ``.npy`` offsets file ``path``, read in blocks with
    plain reads: unlike going through a memory map, the offsets' pages do not stay in this
    process's resident memory."""
    with open(path, "rb") as f:
        fmt = np.lib.format
        version = fmt.read_magic(f)
        read_header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, _, dtype = read_header(f)
        if dtype != np.int64 or len(shape) != 1:
            raise DataError(f"{path} does not hold 1-d int64 offsets")
        n = max(shape[0] - 1, 0)
        out = np.empty(n, dtype=np.int32)
        prev = np.fromfile(f, dtype=np.int64, count=1)
        for a in range(0, n, _LENGTH_BLOCK):
            block = np.fromfile(f, dtype=np.int64, count=min(_LENGTH_BLOCK, n - a))
            out[a : a + len(block)] = np.diff(np.concatenate([prev, block]))
            prev = block[-1:]
    return out


# -- arrays ----------------------------------------------------------------------------
@dataclass
class TokenArray:
    """Sentences of one side as one flat token array plus offsets (both may be memory-mapped).

    Attributes:
        tokens: all token ids, concatenated.
        offsets: ``(n + 1,)`` int64: sentence ``i`` is ``tokens[offsets[i]:offsets[i + 1]]``.
        lengths: ``(n,)`` int32 sentence lengths (computed from ``offsets`` when not given).
    """

    tokens: np.ndarray
    offsets: np.ndarray
    lengths: np.ndarray = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.lengths is None:
            self.lengths = lengths_of(self.offsets)

    def __len__(self) -> int:
        return len(self.lengths)

    def __getitem__(self, i: int) -> np.ndarray:
        return np.asarray(self.tokens[int(self.offsets[i]) : int(self.offsets[i + 1])])

    @classmethod
    def from_lists(cls, seqs: Sequence[Sequence[int]], dtype: Any = np.int32) -> TokenArray:
        """Pack lists of ids (tests and small data)."""
        lengths = np.array([len(s) for s in seqs], dtype=np.int64)
        offsets = np.zeros(len(seqs) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        flat = [t for s in seqs for t in s]
        return cls(np.asarray(flat, dtype=dtype), offsets)

    def gather(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(flat tokens, lengths)`` of the sentences ``indices``, concatenated in order."""
        lens = self.lengths[indices]
        starts = np.asarray(self.offsets)[indices]
        # position of token j of sentence k = starts[k] + j
        shift = np.repeat(starts - (np.cumsum(lens) - lens), lens)
        pos = shift + np.arange(int(lens.sum()), dtype=np.int64)
        return np.asarray(self.tokens[pos], dtype=np.int64), lens


@dataclass
class TaskArrays:
    """One split of one task: encoded sources and targets, and how to make a padded batch.

    Attributes:
        task: task name.
        src: sources, ``[<2tgt>] + pieces + [</s>]``.
        tgt: targets, pieces only.
        tgt_tag: id of the target-language tag that starts the decoder input.
        pad_id: padding id.
        eos_id: end-of-sentence id.
    """

    task: str
    src: TokenArray
    tgt: TokenArray
    tgt_tag: int
    pad_id: int
    eos_id: int

    def __len__(self) -> int:
        return len(self.src)

    @property
    def costs(self) -> np.ndarray:
        """``(n,)`` padded size of each pair in a batch: ``max(len(src), len(tgt) + 1)``."""
        return np.maximum(self.src.lengths, self.tgt.lengths + 1)

    def batch(self, indices: np.ndarray | Sequence[int]) -> LangBatch:
        """The pairs ``indices`` as one right-padded :class:`LangBatch`."""
        idx = np.asarray(indices, dtype=np.int64)
        if idx.size == 0:
            raise DataError(f"empty batch requested for '{self.task}'")
        src_flat, src_lens = self.src.gather(idx)
        tgt_flat, tgt_lens = self.tgt.gather(idx)
        n, s, t = len(idx), int(src_lens.max()), int(tgt_lens.max()) + 1
        src = np.full((n, s), self.pad_id, dtype=np.int64)  # (B, S)
        src[np.arange(s) < src_lens[:, None]] = src_flat
        tgt_mask = np.arange(t) < tgt_lens[:, None]  # (B, T): where the target pieces go
        tgt_out = np.full((n, t), self.pad_id, dtype=np.int64)  # (B, T)
        tgt_out[tgt_mask] = tgt_flat
        tgt_out[np.arange(n), tgt_lens] = self.eos_id
        tgt_in = np.full((n, t), self.pad_id, dtype=np.int64)  # (B, T)
        tgt_in[:, 0] = self.tgt_tag
        tgt_in[:, 1:][tgt_mask[:, :-1]] = tgt_flat
        return LangBatch(
            self.task,
            torch.from_numpy(src),
            torch.from_numpy(tgt_in),
            torch.from_numpy(tgt_out),
            self.pad_id,
        )

    def packed_batch(self, indices: np.ndarray | Sequence[int], row_len: int) -> LangBatch:
        """The pairs ``indices`` packed several to a row (:func:`pack_rows`), with segment ids.

        Pair ``k`` of a row is segment ``k`` on both sides: its source, and its target as
        ``[tag] + pieces`` in ``tgt_in`` and ``pieces + [</s>]`` in ``tgt_out``; rows are
        right-padded to the longest row of each side.
        """
        idx = np.asarray(indices, dtype=np.int64)
        if idx.size == 0:
            raise DataError(f"empty batch requested for '{self.task}'")
        rows = pack_rows(self.src.lengths[idx], self.tgt.lengths[idx] + 1, row_len)
        by_row = np.argsort(rows, kind="stable")
        idx, rows = idx[by_row], rows[by_row]
        src_flat, src_lens = self.src.gather(idx)
        (src,), src_seg = packed_side(rows, src_lens, [src_flat], self.pad_id)

        tgt_flat, tgt_lens = self.tgt.gather(idx)
        last = np.cumsum(tgt_lens + 1) - 1  # the </s> of tgt_out, or the last piece of tgt_in
        first = last - tgt_lens  # the tag of tgt_in, or the first piece of tgt_out
        n = int(last[-1]) + 1
        out_flat = np.full(n, self.eos_id, dtype=np.int64)
        piece = np.ones(n, dtype=bool)
        piece[last] = False
        out_flat[piece] = tgt_flat
        in_flat = np.full(n, self.tgt_tag, dtype=np.int64)
        piece[last], piece[first] = True, False
        in_flat[piece] = tgt_flat
        # each target takes its pieces + 1 positions on both decoder sides
        (tgt_in, tgt_out), tgt_seg = packed_side(rows, tgt_lens + 1, [in_flat, out_flat], self.pad_id)
        return LangBatch(self.task, src, tgt_in, tgt_out, self.pad_id, src_seg, tgt_seg)
