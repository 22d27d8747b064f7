"""Encode a corpus once into memory-mapped token arrays, cached under a hash of the inputs.

Layout of one cache entry ``<cache_root>/data-<key>/``::

    meta.json                      tasks, pairs, sizes, skipped counts, tags, settings
    {split}.{task}.{side}.tok.npy  all token ids of one side, concatenated (uint16 or int32)
    {split}.{task}.{side}.off.npy  (n + 1,) int64 offsets: sentence i is tok[off[i]:off[i+1]]
    train.{task}.keep.npy          indices of the corpus's training pairs that were kept
    {split}.{task}.raw.json        source and reference text of the valid and test splits

``side`` is ``src`` (``[<2tgt>] + pieces + [</s>]``, the tag only with ``source_tag``) or
``tgt`` (the pieces alone; :meth:`TaskArrays.batch` adds the tag and ``</s>``). An entry is
written into a temporary folder and renamed into place, so readers never see half of one.
The key covers the corpus content, the vocabulary file, ``max_len``, ``source_tag`` and
:data:`FORMAT_VERSION`: any change gives a new entry, an unchanged input loads instantly.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from catsmt.data.batch import LangBatch
from catsmt.data.errors import DataError
from catsmt.data.packing import pack_rows, packed_side
from catsmt.data.vocab import Vocab
from catsmt.files import current_umask, write_atomic

FORMAT_VERSION = 1
SPLITS = ("train", "valid", "test")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")


class CorpusLike(Protocol):
    """What :func:`binarize` reads of ``catsmt.data.corpus.Corpus`` (see docs/design.md)."""

    tasks: list[str]
    pairs: dict[str, tuple[str, str]]
    splits: dict[str, dict[str, tuple[list[str], list[str]]]]


# -- cache keys ------------------------------------------------------------------------
def cache_key(*parts: Any) -> str:
    """A short stable hash of JSON-serialisable ``parts`` and :data:`FORMAT_VERSION`."""
    blob = json.dumps([FORMAT_VERSION, *parts], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def corpus_digest(corpus: CorpusLike) -> str:
    """A content hash of an in-memory corpus (tasks, pairs and every line of every split)."""
    h = hashlib.sha256()
    h.update(json.dumps([corpus.tasks, corpus.pairs], sort_keys=True).encode())
    for split in sorted(corpus.splits):
        for task in sorted(corpus.splits[split]):
            src, tgt = corpus.splits[split][task]
            h.update(f"\0{split}\0{task}\0{len(src)}\0{len(tgt)}\0".encode())
            for line in src:
                h.update(line.encode())
                h.update(b"\n")
            for line in tgt:
                h.update(line.encode())
                h.update(b"\n")
    return h.hexdigest()


def files_digest(directory: Path, exclude: Sequence[Path] = (), memo: Path | None = None) -> str:
    """A content hash of every file under ``directory`` (hidden names and ``exclude`` skipped).

    Contents are hashed once and remembered in ``memo`` (a JSON file) by path, size and
    modification time, so a second call only stats the files.

    Raises:
        DataError: ``directory`` does not exist, or holds something other than regular files
            and folders (a FIFO would block the hash for ever; a broken link cannot be read).
    """
    directory = Path(directory).resolve()
    if not directory.is_dir():
        raise DataError(f"corpus directory '{directory}' does not exist")
    excluded = [Path(p).resolve() for p in exclude]
    known: dict[str, list[Any]] = {}
    if memo is not None and memo.is_file():
        try:
            known = json.loads(memo.read_text())
        except (OSError, ValueError):
            known = {}
    fresh: dict[str, list[Any]] = {}
    entries: list[tuple[str, str]] = []
    for root, dirs, files in os.walk(directory):
        here = Path(root)
        dirs[:] = sorted(
            d for d in dirs if not d.startswith(".") and (here / d).resolve() not in excluded
        )
        for name in sorted(files):
            if name.startswith("."):
                continue
            path = here / name
            try:
                st = path.stat()
            except OSError as e:
                raise DataError(f"cannot read {path} in the corpus folder: {e.strerror}") from None
            if not stat.S_ISREG(st.st_mode):
                raise DataError(
                    f"{path} is {_file_kind(st.st_mode)}, not a regular file; a corpus folder "
                    "holds only regular files and folders (remove it or move it elsewhere)"
                )
            abs_name = str(path)
            old = known.get(abs_name)
            if old is not None and old[0] == st.st_size and old[1] == st.st_mtime_ns:
                digest = str(old[2])
            else:
                digest = _file_sha256(path)
            fresh[abs_name] = [st.st_size, st.st_mtime_ns, digest]
            entries.append((str(path.relative_to(directory)), digest))
    if memo is not None and fresh != {k: known.get(k) for k in fresh}:
        known.update(fresh)
        _write_text_atomic(memo, json.dumps(known))
    return hashlib.sha256(json.dumps(entries).encode()).hexdigest()


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _file_kind(mode: int) -> str:
    """What a non-regular file is, in words ("a FIFO (named pipe)")."""
    kinds = [
        (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
    ]
    return next((word for test, word in kinds if test(mode)), "not a file")


def _write_text_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text, fsync=False)  # a memo: rebuilt if lost


def cache_dir(
    cache_root: Path, corpus_key: str, vocab: Vocab, max_len: int, source_tag: bool
) -> Path:
    """The folder of the binarized cache entry for these inputs."""
    key = cache_key("data", corpus_key, vocab.digest, max_len, source_tag)
    return Path(cache_root) / f"data-{key}"


def is_built(entry: Path) -> bool:
    """Whether a complete cache entry exists at ``entry``."""
    return (Path(entry) / "meta.json").is_file()


# -- arrays ----------------------------------------------------------------------------
@dataclass
class TokenArray:
    """Sentences of one side as one flat token array plus offsets (both may be memory-mapped)."""

    tokens: np.ndarray
    offsets: np.ndarray

    def __post_init__(self) -> None:
        self.lengths = np.diff(np.asarray(self.offsets)).astype(np.int64)

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


@dataclass
class Binarized:
    """A loaded cache entry.

    Attributes:
        path: the entry's folder.
        tasks: task names, sorted.
        pairs: task -> (source language, target language).
        data: split -> task -> arrays (a task may lack a split).
        skipped: task -> training pairs dropped (a side longer than ``max_len``, or empty).
        meta: the entry's ``meta.json``.
    """

    path: Path
    tasks: list[str]
    pairs: dict[str, tuple[str, str]]
    data: dict[str, dict[str, TaskArrays]]
    skipped: dict[str, int]
    meta: dict[str, Any]

    def raw(self, split: str, task: str) -> tuple[list[str], list[str]] | None:
        """Source and reference text of a valid/test split, or None where not stored."""
        path = self.path / f"{split}.{task}.raw.json"
        if not path.is_file():
            return None
        src, tgt = json.loads(path.read_text())
        return list(src), list(tgt)

    def kept(self, task: str) -> np.ndarray:
        """Indices into the corpus's training pairs of ``task`` that were kept."""
        return np.load(self.path / f"train.{task}.keep.npy", mmap_mode="r")


# -- building and loading --------------------------------------------------------------
def binarize(
    corpus: CorpusLike,
    vocab: Vocab,
    cache_root: str | Path,
    *,
    max_len: int,
    source_tag: bool,
    corpus_key: str | None = None,
) -> Binarized:
    """Encode ``corpus`` into the cache (unless an entry for the same inputs exists) and load it.

    Args:
        corpus: tasks, pairs and text per split (``catsmt.data.corpus.Corpus``).
        vocab: the shared vocabulary; every language of ``corpus.pairs`` needs a tag.
        cache_root: folder holding the ``data-<key>`` entries.
        max_len: training pairs with a side of more pieces than this are skipped.
        source_tag: whether sources start with the target-language tag.
        corpus_key: a hash that identifies the corpus (e.g. of its files); by default the
            content hash :func:`corpus_digest`.

    Raises:
        DataError: a language without a tag, an unsafe task name, or a task whose training
            pairs are all too long.
    """
    key = corpus_key if corpus_key is not None else corpus_digest(corpus)
    entry = cache_dir(Path(cache_root), key, vocab, max_len, source_tag)
    if not is_built(entry):
        write_entry(corpus, vocab, entry, max_len=max_len, source_tag=source_tag)
    return load_binarized(entry)


def write_entry(
    corpus: CorpusLike, vocab: Vocab, entry: Path, *, max_len: int, source_tag: bool
) -> None:
    """Encode ``corpus`` and write it as the cache entry ``entry`` (atomically)."""
    for task in corpus.tasks:
        if not _SAFE_NAME.match(task):
            raise DataError(
                f"task name '{task}' is not usable as a file name (use letters, digits, _ . -)"
            )
        if task not in corpus.pairs:
            raise DataError(f"corpus lists task '{task}' but gives no (source, target) pair for it")
    dtype = np.uint16 if vocab.size <= np.iinfo(np.uint16).max + 1 else np.int32
    entry = Path(entry)
    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=entry.parent, prefix=f".tmp-{entry.name}-"))
    try:
        tmp.chmod(0o777 & ~current_umask())  # mkdtemp's 0700 would shut the group out of the cache
        sizes: dict[str, dict[str, int]] = {}
        skipped: dict[str, int] = {}
        tags: dict[str, int] = {}
        for task in corpus.tasks:
            tags[task] = vocab.tag_id(corpus.pairs[task][1])
            src_tag = vocab.tag_id(corpus.pairs[task][1]) if source_tag else None
            for split in sorted(corpus.splits):
                if task not in corpus.splits[split]:
                    continue
                src_text, tgt_text = corpus.splits[split][task]
                if len(src_text) != len(tgt_text):
                    raise DataError(
                        f"{split} data of '{task}' has {len(src_text)} source and "
                        f"{len(tgt_text)} target lines"
                    )
                src_ids = vocab.encode_many(src_text)
                tgt_ids = vocab.encode_many(tgt_text)
                if split == "train":
                    keep = [
                        i
                        for i, (s, t) in enumerate(zip(src_ids, tgt_ids, strict=True))
                        if 0 < len(s) <= max_len and 0 < len(t) <= max_len
                    ]
                    skipped[task] = len(src_ids) - len(keep)
                    if src_ids and not keep:
                        raise DataError(
                            f"all {len(src_ids)} training pairs of '{task}' are empty or have a "
                            f"side longer than max_len={max_len} subwords"
                        )
                    np.save(tmp / f"train.{task}.keep.npy", np.asarray(keep, dtype=np.int64))
                    src_ids = [src_ids[i] for i in keep]
                    tgt_ids = [tgt_ids[i] for i in keep]
                else:
                    (tmp / f"{split}.{task}.raw.json").write_text(
                        json.dumps([list(src_text), list(tgt_text)], ensure_ascii=False)
                    )
                head = [src_tag] if src_tag is not None else []
                sources = [head + s + [vocab.eos_id] for s in src_ids]
                for side, seqs in (("src", sources), ("tgt", tgt_ids)):
                    arr = TokenArray.from_lists(seqs, dtype=dtype)
                    np.save(tmp / f"{split}.{task}.{side}.tok.npy", arr.tokens)
                    np.save(tmp / f"{split}.{task}.{side}.off.npy", arr.offsets)
                sizes.setdefault(split, {})[task] = len(sources)
        meta = {
            "format": FORMAT_VERSION,
            "tasks": list(corpus.tasks),
            "pairs": {t: list(corpus.pairs[t]) for t in corpus.tasks},
            "sizes": sizes,
            "skipped": skipped,
            "tags": tags,
            "pad_id": vocab.pad_id,
            "eos_id": vocab.eos_id,
            "vocab_size": vocab.size,
            "vocab_digest": vocab.digest,
            "max_len": max_len,
            "source_tag": source_tag,
        }
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
        try:
            os.rename(tmp, entry)
        except OSError:
            if not is_built(entry):  # not a concurrent writer finishing first: a real error
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def load_binarized(entry: str | Path) -> Binarized:
    """Load a cache entry; token arrays are memory-mapped, nothing is re-tokenized.

    Raises:
        DataError: ``entry`` is not a complete entry of this format version.
    """
    entry = Path(entry)
    if not is_built(entry):
        raise DataError(f"'{entry}' is not a binarized catsmt cache entry (no meta.json)")
    meta = json.loads((entry / "meta.json").read_text())
    if meta.get("format") != FORMAT_VERSION:
        raise DataError(
            f"cache entry '{entry}' has format {meta.get('format')}, "
            f"this catsmt reads {FORMAT_VERSION}"
        )
    data: dict[str, dict[str, TaskArrays]] = {}
    for split, per_task in meta["sizes"].items():
        for task in per_task:
            sides = [
                TokenArray(
                    np.load(entry / f"{split}.{task}.{side}.tok.npy", mmap_mode="r"),
                    np.load(entry / f"{split}.{task}.{side}.off.npy"),
                )
                for side in ("src", "tgt")
            ]
            data.setdefault(split, {})[task] = TaskArrays(
                task,
                sides[0],
                sides[1],
                int(meta["tags"][task]),
                int(meta["pad_id"]),
                int(meta["eos_id"]),
            )
    return Binarized(
        path=entry,
        tasks=list(meta["tasks"]),
        pairs={t: (p[0], p[1]) for t, p in meta["pairs"].items()},
        data=data,
        skipped={t: int(n) for t, n in meta["skipped"].items()},
        meta=meta,
    )
