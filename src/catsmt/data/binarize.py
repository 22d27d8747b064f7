"""Encode a corpus once into memory-mapped token arrays, cached under a hash of the inputs.

Layout of one cache entry ``<cache_root>/data-<key>/``::

    meta.json                      tasks, pairs, sizes, skipped counts, tags, settings
    {split}.{task}.{side}.tok.npy  all token ids of one side, concatenated (uint16 or int32)
    {split}.{task}.{side}.off.npy  (n + 1,) int64 offsets: sentence i is tok[off[i]:off[i+1]]
    train.{task}.keep.npy          indices of the corpus's training pairs that were kept
    {split}.{task}.raw.json        source and reference text of the valid and test splits

``side`` is ``src`` (``[<2tgt>] + pieces + [</s>]``, the tag only with ``source_tag``) or
``tgt`` (the pieces alone; :meth:`TaskArrays.batch` adds the tag and ``</s>``). An entry is
written into a temporary folder and renamed into place, so readers never see half of one
(a build killed half-way leaves a ``.tmp-*`` folder, which the next build of that entry
removes).
The key covers the corpus content, the vocabulary file, ``max_len``, ``source_tag`` and
:data:`FORMAT_VERSION`: any change gives a new entry, an unchanged input loads instantly.

**Building streams.** The corpus comes as checked chunks (:class:`~catsmt.data.corpus.CorpusLines`);
each chunk is encoded (:mod:`catsmt.data.encode`, over ``workers`` processes, in order) and
appended to ``.npy`` files whose header is written last (:class:`_NpyAppender`), so memory
does not grow with the corpus and the files are byte for byte those ``np.save`` writes of
the whole arrays, whatever the number of workers.
"""

from __future__ import annotations

import glob
import hashlib
import json
import logging
import os
import re
import shutil
import socket
import stat
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from catsmt.data.arrays import TaskArrays, TokenArray, lengths_from_file
from catsmt.data.corpus import CorpusLines
from catsmt.data.encode import EncodedChunk, EncodeJob, encode_chunks
from catsmt.data.errors import DataError
from catsmt.data.vocab import Vocab
from catsmt.files import current_umask, write_atomic

__all__ = [
    "FORMAT_VERSION", "Binarized", "CorpusLike", "TaskArrays", "TokenArray", "binarize",
    "cache_dir", "cache_key", "corpus_digest", "files_digest", "is_built", "load_binarized",
    "write_entry",
]

FORMAT_VERSION = 1
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")
log = logging.getLogger(__name__)


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
    corpus: CorpusLike | CorpusLines,
    vocab: Vocab,
    cache_root: str | Path,
    *,
    max_len: int,
    source_tag: bool,
    corpus_key: str | None = None,
    workers: int = 1,
    progress: bool = False,
) -> Binarized:
    """Encode ``corpus`` into the cache (unless an entry for the same inputs exists) and load it.

    Args:
        corpus: tasks, pairs and text per split: in memory (``catsmt.data.corpus.Corpus``) or
            checked chunks of files (``CorpusLines``).
        vocab: the shared vocabulary; every language of ``corpus.pairs`` needs a tag.
        cache_root: folder holding the ``data-<key>`` entries.
        max_len: training pairs with a side of more pieces than this are skipped.
        source_tag: whether sources start with the target-language tag.
        corpus_key: a hash that identifies the corpus (e.g. of its files); by default the
            content hash :func:`corpus_digest` (of an in-memory corpus; required for lines).
        workers: encoding processes (the entry is the same for any number).
        progress: show a progress bar (lines, per language, with an ETA) on a terminal.

    Raises:
        DataError: a language without a tag, an unsafe task name, or a task whose training
            pairs are all too long.
    """
    if corpus_key is None:
        if isinstance(corpus, CorpusLines):
            raise ValueError("binarize() of CorpusLines needs the corpus_key of its files")
        corpus_key = corpus_digest(corpus)
    entry = cache_dir(Path(cache_root), corpus_key, vocab, max_len, source_tag)
    if not is_built(entry):
        write_entry(corpus, vocab, entry, max_len=max_len, source_tag=source_tag,
                    workers=workers, progress=progress)
    return load_binarized(entry)


class _NpyAppender:
    """A 1-d ``.npy`` file written piece by piece: the header is rewritten with the final
    length on :meth:`close`, giving the bytes ``np.save`` writes for the whole array (numpy
    pads a header so that its length does not change as a 1-d shape grows)."""

    def __init__(self, path: Path, dtype: Any) -> None:
        self._file = open(path, "wb")  # noqa: SIM115 (closed in close())
        self._dtype = np.dtype(dtype)
        self._n = 0
        self._header()
        self._header_len = self._file.tell()

    def _header(self) -> None:
        header = {"descr": np.lib.format.dtype_to_descr(self._dtype), "fortran_order": False, "shape": (self._n,)}
        np.lib.format.write_array_header_1_0(self._file, header)

    def append(self, values: np.ndarray) -> None:
        self._file.write(np.ascontiguousarray(values, dtype=self._dtype).tobytes())
        self._n += len(values)

    def close(self) -> None:
        self._file.seek(0)
        self._header()
        if self._file.tell() != self._header_len:  # a numpy that stops padding: fail loudly
            raise RuntimeError(f"the .npy header of {self._file.name} changed length")
        self._file.close()


class _SideWriter:
    """The ``tok.npy`` and ``off.npy`` files of one side of one split, appended chunk by chunk."""

    def __init__(self, stem: Path, dtype: Any) -> None:
        self._tok = _NpyAppender(stem.with_name(stem.name + ".tok.npy"), dtype)
        self._off = _NpyAppender(stem.with_name(stem.name + ".off.npy"), np.int64)
        self._off.append(np.zeros(1, dtype=np.int64))
        self._total = 0

    def append(self, tokens: np.ndarray, lengths: np.ndarray) -> None:
        self._tok.append(tokens)
        self._off.append(self._total + np.cumsum(lengths))
        self._total += int(lengths.sum())

    def close(self) -> None:
        self._tok.close()
        self._off.close()


def _check_tasks(corpus: CorpusLines, vocab: Vocab) -> None:
    for task in corpus.tasks:
        if not _SAFE_NAME.match(task):
            raise DataError(
                f"task name '{task}' is not usable as a file name (use letters, digits, _ . -)"
            )
        if task not in corpus.pairs:
            raise DataError(f"corpus lists task '{task}' but gives no (source, target) pair for it")
        vocab.tag_id(corpus.pairs[task][1])  # raises for a language without a tag


def write_entry(
    corpus: CorpusLike | CorpusLines,
    vocab: Vocab,
    entry: Path,
    *,
    max_len: int,
    source_tag: bool,
    workers: int = 1,
    progress: bool = False,
) -> None:
    """Encode ``corpus`` and write it as the cache entry ``entry`` (atomically); see
    :func:`binarize` for the arguments."""
    lines = corpus if isinstance(corpus, CorpusLines) else CorpusLines.from_corpus(corpus)
    _check_tasks(lines, vocab)
    dtype = np.uint16 if vocab.size <= np.iinfo(np.uint16).max + 1 else np.int32
    entry = Path(entry)
    entry.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(entry)
    tmp = Path(tempfile.mkdtemp(dir=entry.parent, prefix=_tmp_prefix(entry, os.getpid())))
    try:
        tmp.chmod(0o777 & ~current_umask())  # mkdtemp's 0700 would shut the group out of the cache
        sizes, skipped = _write_arrays(lines, vocab, tmp, dtype, max_len, source_tag, workers, progress)
        meta = {
            "format": FORMAT_VERSION,
            "tasks": list(lines.tasks),
            "pairs": {t: list(lines.pairs[t]) for t in lines.tasks},
            "sizes": sizes,
            "skipped": skipped,
            "tags": {t: vocab.tag_id(lines.pairs[t][1]) for t in lines.tasks},
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


def _tmp_prefix(entry: Path, pid: int) -> str:
    return f".tmp-{entry.name}-{socket.gethostname()}-{pid}-"


def _remove_abandoned(entry: Path) -> None:
    """Delete the temporary folders of builds of ``entry`` that were killed (their process, on
    this host, is gone); a build still running elsewhere keeps its own."""
    stem = f".tmp-{entry.name}-{socket.gethostname()}-"
    for folder in entry.parent.glob(f"{glob.escape(stem)}*"):
        pid = folder.name[len(stem):].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            log.info("removing %s, left by a build that was stopped", folder)
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # PermissionError: alive, someone else's
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def _write_arrays(
    corpus: CorpusLines, vocab: Vocab, out: Path, dtype: Any, max_len: int, source_tag: bool,
    workers: int, progress: bool,
) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
    """Encode every split of every task into ``out``; returns the sizes and skipped counts."""
    parts = [  # (task, split) in the order of the old one-shot writer
        (task, split) for task in corpus.tasks for split in sorted(corpus.lines) if task in corpus.lines[split]
    ]
    jobs = [
        EncodeJob(chunk, split == "train", vocab.tag_id(corpus.pairs[task][1]) if source_tag else None,
                  vocab.eos_id, max_len, np.dtype(dtype).name)
        for task, split in parts
        for chunk in corpus.lines[split][task].chunks
    ]
    results = encode_chunks(vocab.model_proto, jobs, workers, vocab.processor)
    bar = _Progress(corpus, parts, progress)
    sizes: dict[str, dict[str, int]] = {}
    skipped: dict[str, int] = {}
    try:
        for task, split in parts:
            pairs = corpus.lines[split][task]
            src, tgt = _SideWriter(out / f"{split}.{task}.src", dtype), _SideWriter(out / f"{split}.{task}.tgt", dtype)
            keep = _NpyAppender(out / f"train.{task}.keep.npy", np.int64) if split == "train" else None
            text: tuple[list[str], list[str]] = ([], [])
            kept = 0
            bar.begin(task)
            for _ in pairs.chunks:
                chunk: EncodedChunk = next(results)
                src.append(chunk.src, chunk.src_len)
                tgt.append(chunk.tgt, chunk.tgt_len)
                kept += len(chunk.src_len)
                if keep is not None and chunk.keep is not None:
                    keep.append(chunk.keep)
                if chunk.text is not None:
                    text[0].extend(chunk.text[0])
                    text[1].extend(chunk.text[1])
                bar.update(task, chunk.lines)
            src.close()
            tgt.close()
            if keep is not None:
                keep.close()
                skipped[task] = pairs.size - kept
                if pairs.size and not kept:
                    raise DataError(
                        f"all {pairs.size} training pairs of '{task}' are empty or have a "
                        f"side longer than max_len={max_len} subwords"
                    )
            else:
                (out / f"{split}.{task}.raw.json").write_text(json.dumps(list(text), ensure_ascii=False))
            sizes.setdefault(split, {})[task] = kept
    finally:
        bar.close()
        results.close()  # type: ignore[attr-defined]
    return sizes, skipped


class _Progress:
    """Lines binarized, on a terminal: one bar over the corpus, named after the language
    being encoded, and a log line with each language's lines per second."""

    def __init__(self, corpus: CorpusLines, parts: list[tuple[str, str]], enabled: bool) -> None:
        self._sizes: dict[str, int] = {}
        for task, split in parts:
            self._sizes[task] = self._sizes.get(task, 0) + corpus.lines[split][task].size
        self._done = dict.fromkeys(self._sizes, 0)
        self._start = dict.fromkeys(self._sizes, 0.0)
        self._bar = None
        if enabled:
            from tqdm import tqdm

            total = sum(self._sizes.values())
            self._bar = tqdm(total=total, unit="line", unit_scale=True, dynamic_ncols=True,
                             mininterval=1.0, desc="binarize", disable=None, leave=False)

    def begin(self, task: str) -> None:
        if not self._done[task]:
            self._start[task] = time.perf_counter()

    def update(self, task: str, lines: int) -> None:
        now = time.perf_counter()
        self._done[task] += lines
        if self._bar is not None:
            self._bar.set_description(f"binarize {task}", refresh=False)
            self._bar.update(lines)
        if self._done[task] == self._sizes[task]:
            seconds = max(now - self._start[task], 1e-9)
            log.info("binarized %s: %d lines in %.1f s (%.0f lines/s)", task, self._sizes[task],
                     seconds, self._sizes[task] / seconds)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def load_binarized(entry: str | Path) -> Binarized:
    """Load a cache entry; token arrays and offsets are memory-mapped, nothing is re-tokenized.

    Only the sentence lengths are read into memory (int32, what the sampler needs).

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
                    np.load(entry / f"{split}.{task}.{side}.off.npy", mmap_mode="r"),
                    lengths_from_file(entry / f"{split}.{task}.{side}.off.npy"),
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
