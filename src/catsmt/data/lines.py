"""Corpus files as line-aligned chunks: checked in one pass, then read a chunk at a time.

Reading a corpus into Python lists costs about 1 kB of RAM per sentence pair, so a corpus of
OPUS-100's size (55M pairs) would not fit in memory. Instead :func:`index_lines` reads a file
once in blocks of :data:`BLOCK_BYTES`, checks every line exactly as the list readers of
:mod:`catsmt.data.corpus` do (same rules, same ``PATH:LINE:`` messages, so a bad line is
reported before anything is written), counts the lines, and records the byte offset of every
:data:`CHUNK_LINES`-th line. A :class:`PairChunk` -- lines ``[k * CHUNK_LINES, ...)`` of one
split of one pair -- is then small enough to send to a worker process, which reads just those
bytes (:meth:`PairChunk.read`). Memory stays bounded by the block and chunk sizes, whatever
the corpus size.

The checks use regular expressions only to find *candidate* lines fast; each candidate is
judged by the same per-line function the list readers use (:func:`check_line`,
:func:`split_tsv_line`), so the two paths cannot disagree on what is an error.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from catsmt.data.errors import DataError

CHUNK_LINES = 50_000
"""Lines per chunk: the unit of work of a binarizing worker (a few MB of text)."""

BLOCK_BYTES = 1 << 23
"""Bytes read at a time while indexing a file."""

# Candidates only (no false negatives): a blank line; for TSV also a line without exactly one
# tab or with an empty side. ``\s`` is str.isspace's whitespace, as ``str.strip`` uses.
_BLANK = re.compile(r"^\s*$", re.MULTILINE)
_TSV_SUSPECT = re.compile(
    r"^(?:\s*$|[^\t\n]*$|[^\t\n]*\t[^\t\n]*\t|[^\S\t\n]*\t|[^\t\n]*\t[^\S\t\n]*$)", re.MULTILINE
)


def decode_line(path: Path, lineno: int, raw: bytes) -> str:
    """One line's bytes (without ``\\n``) as text, trailing ``\\r`` removed.

    Raises:
        DataError: ``PATH:LINE:`` invalid UTF-8.
    """
    raw = raw.rstrip(b"\r")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(
            f"{path}:{lineno}: invalid UTF-8 ({e.reason} at byte {e.start} of the line)"
        ) from None


def check_line(path: Path, lineno: int, line: str) -> None:
    """Raise ``PATH:LINE:`` when ``line`` is empty or whitespace only."""
    if not line.strip():
        raise DataError(
            f"{path}:{lineno}: empty or whitespace-only line; every line must hold a sentence"
        )


def split_tsv_line(path: Path, lineno: int, line: str) -> tuple[str, str]:
    """``(left, right)`` of a ``left<TAB>right`` line.

    Raises:
        DataError: ``PATH:LINE:`` when the line does not hold exactly one tab or a side is empty.
    """
    fields = line.split("\t")
    if len(fields) != 2:
        raise DataError(
            f"{path}:{lineno}: expected 'source<TAB>target', found {len(fields) - 1} tabs"
        )
    if not fields[0].strip() or not fields[1].strip():
        side = "source" if not fields[0].strip() else "target"
        raise DataError(f"{path}:{lineno}: empty {side} side")
    return fields[0], fields[1]


@dataclass(frozen=True)
class LineIndex:
    """A checked text file: its line count and where each chunk of :data:`CHUNK_LINES` starts.

    Attributes:
        path: the file.
        lines: number of lines (a last line without ``\\n`` counts).
        starts: ``(chunks + 1,)`` byte offsets: chunk ``i`` is bytes ``starts[i]:starts[i+1]``.
        chunk_lines: lines per chunk (the last may have fewer).
    """

    path: Path
    lines: int
    starts: np.ndarray
    chunk_lines: int = CHUNK_LINES

    @property
    def chunks(self) -> int:
        return len(self.starts) - 1

    def read_chunk(self, i: int) -> list[str]:
        """The lines of chunk ``i`` as text (already checked by :func:`index_lines`)."""
        return read_range(self.path, int(self.starts[i]), int(self.starts[i + 1]))


def read_range(path: Path, start: int, end: int) -> list[str]:
    """The lines in bytes ``start:end`` of ``path`` (which start and end at line boundaries)."""
    with open(path, "rb") as f:
        f.seek(start)
        blob = f.read(end - start)
    pieces = blob.split(b"\n")
    if pieces and pieces[-1] == b"":
        pieces.pop()
    return [p.rstrip(b"\r").decode("utf-8") for p in pieces]


def index_lines(
    path: str | Path, tsv: bool = False, on_bytes: Callable[[int], object] | None = None
) -> LineIndex:
    """Check every line of ``path`` as :func:`catsmt.data.corpus.read_lines` (or ``read_tsv``
    when ``tsv``) would, count the lines and find the chunk boundaries, in bounded memory.

    ``on_bytes(n)`` is called with the bytes of each block read (for a progress bar).

    Raises:
        DataError: the first bad line, as the list readers word it, or an empty file.
    """
    path = Path(path)
    starts = [0]
    lines = 0
    offset = 0  # byte offset of `carry` in the file
    carry = b""
    with open(path, "rb") as f:
        while True:
            block = f.read(BLOCK_BYTES)
            if on_bytes is not None:
                on_bytes(len(block))
            data = carry + block if carry else block
            if not block:
                if data:  # a last line without "\n"
                    lines = _index_piece(path, data, lines, offset, starts, tsv, final=True)
                break
            cut = data.rfind(b"\n") + 1
            if cut == 0:  # one line longer than a block: keep reading
                carry = data
                continue
            lines = _index_piece(path, data[:cut], lines, offset, starts, tsv, final=False)
            offset += cut
            carry = data[cut:]
    if lines == 0:
        raise DataError(f"{path}: file is empty")
    starts.append(offset + len(carry))
    return LineIndex(path, lines, np.asarray(starts, dtype=np.int64), CHUNK_LINES)


def _index_piece(
    path: Path, piece: bytes, first: int, offset: int, starts: list[int], tsv: bool, final: bool
) -> int:
    """Check the whole lines in ``piece`` (lines ``first + 1 ...``), record the chunk starts
    among them, and return the line count so far."""
    text = _decode_piece(path, piece, first, tsv)
    _check_text(path, text, first, tsv, end=len(text) - (0 if final else 1))
    newlines = np.flatnonzero(np.frombuffer(piece, dtype=np.uint8) == 10)
    n = len(newlines) + (1 if final else 0)
    line_starts = np.concatenate([[0], newlines[: n - 1] + 1]) if n else np.zeros(0, np.int64)
    numbers = first + np.arange(n)
    for k in np.flatnonzero((numbers % CHUNK_LINES == 0) & (numbers > 0)).tolist():
        starts.append(offset + int(line_starts[k]))
    return first + n


def _decode_piece(path: Path, piece: bytes, first: int, tsv: bool) -> str:
    """``piece`` as text; on invalid UTF-8, the error of the first bad line (blank lines
    before it are errors first, as a line-by-line reader meets them)."""
    try:
        return piece.decode("utf-8")
    except UnicodeDecodeError as e:
        line_start = piece.rfind(b"\n", 0, e.start) + 1
        before = piece[:line_start].decode("utf-8")
        _check_text(path, before, first, tsv, end=len(before) - 1)
        lineno = first + piece.count(b"\n", 0, line_start) + 1
        line_end = piece.find(b"\n", e.start)
        decode_line(path, lineno, piece[line_start : None if line_end < 0 else line_end])
        raise AssertionError("unreachable: the line failed to decode above") from e


def _check_text(path: Path, text: str, first: int, tsv: bool, end: int) -> None:
    """Raise the error of the first bad line among the lines of ``text[:end]``."""
    pattern = _TSV_SUSPECT if tsv else _BLANK
    pos = 0
    while pos <= end:
        m = pattern.search(text, pos, max(end, 0))
        if m is None:
            return
        start = m.start()
        stop = text.find("\n", start)
        stop = len(text) if stop < 0 else stop
        line = text[start:stop].rstrip("\r")
        lineno = first + text.count("\n", 0, start) + 1
        check_line(path, lineno, line)
        if tsv:
            split_tsv_line(path, lineno, line)
        pos = stop + 1  # a false candidate (e.g. "a\tb\r" ends in whitespace): go on


@dataclass(frozen=True)
class PairChunk:
    """Lines ``first ... first + n - 1`` of one split of one pair: what a worker reads.

    Attributes:
        files: the file of each side (fairseq, TED), or the one TSV file.
        ranges: the byte range of the chunk in each of ``files``.
        first: index of the chunk's first line (0-based).
        swap: for TSV, whether the source is the right column.
        lines: the source and target lines themselves, for an in-memory corpus.
    """

    files: tuple[Path, ...] = ()
    ranges: tuple[tuple[int, int], ...] = ()
    first: int = 0
    swap: bool = False
    lines: tuple[Sequence[str], Sequence[str]] | None = None

    def read(self) -> tuple[list[str], list[str]]:
        """``(source lines, target lines)`` of the chunk."""
        if self.lines is not None:
            return list(self.lines[0]), list(self.lines[1])
        if len(self.files) == 2:
            return tuple(read_range(p, a, b) for p, (a, b) in zip(self.files, self.ranges, strict=True))  # type: ignore[return-value]
        (path,), ((a, b),) = self.files, self.ranges
        left: list[str] = []
        right: list[str] = []
        for line in read_range(path, a, b):
            x, y = line.split("\t")
            left.append(x)
            right.append(y)
        return (right, left) if self.swap else (left, right)


@dataclass(frozen=True)
class PairLines:
    """One split of one task, checked and cut into :class:`PairChunk` s.

    Attributes:
        size: sentence pairs.
        chunks: the chunks in order; their lines are the split's lines in order.
        chunk_lines: lines per chunk (the last may have fewer).
    """

    size: int
    chunks: tuple[PairChunk, ...]
    chunk_lines: int = CHUNK_LINES

    @classmethod
    def aligned(cls, src: LineIndex, tgt: LineIndex) -> PairLines:
        """Two line-aligned files (the caller has checked that their line counts match)."""
        per = src.chunk_lines
        if tgt.chunk_lines != per:
            raise ValueError("the two sides were indexed with different chunk sizes")
        chunks = tuple(
            PairChunk(
                files=(src.path, tgt.path),
                ranges=((int(src.starts[i]), int(src.starts[i + 1])), (int(tgt.starts[i]), int(tgt.starts[i + 1]))),
                first=i * per,
            )
            for i in range(src.chunks)
        )
        return cls(src.lines, chunks, per)

    @classmethod
    def tsv(cls, index: LineIndex, swap: bool) -> PairLines:
        """A ``left<TAB>right`` file; ``swap`` when the source is the right column."""
        chunks = tuple(
            PairChunk(files=(index.path,), ranges=((int(index.starts[i]), int(index.starts[i + 1])),),
                      first=i * index.chunk_lines, swap=swap)
            for i in range(index.chunks)
        )
        return cls(index.lines, chunks, index.chunk_lines)

    @classmethod
    def in_memory(cls, src: Sequence[str], tgt: Sequence[str]) -> PairLines:
        """Lists of lines (tests, converted corpora), cut into chunks like files."""
        chunks = tuple(
            PairChunk(first=a, lines=(src[a : a + CHUNK_LINES], tgt[a : a + CHUNK_LINES]))
            for a in range(0, len(src), CHUNK_LINES)
        )
        return cls(len(src), chunks, CHUNK_LINES)

    def pick(self, indices: np.ndarray) -> dict[int, tuple[str, str]]:
        """The pairs at ``indices`` (any order, repeats allowed), reading only their chunks."""
        wanted = np.unique(np.asarray(indices, dtype=np.int64))
        out: dict[int, tuple[str, str]] = {}
        per = self.chunk_lines
        for c in np.unique(wanted // per).tolist():
            src, tgt = self.chunks[c].read()
            for i in wanted[(wanted >= c * per) & (wanted < (c + 1) * per)].tolist():
                out[i] = (src[i - c * per], tgt[i - c * per])
        return out


# -- list readers: a whole file in memory (small files: valid and test splits, converters) --
def iter_lines(path: Path, allow_empty: bool = False) -> Iterator[str]:
    """Yield the lines of a UTF-8 text file without their trailing ``\\n`` / ``\\r``.

    Reads lazily, so a caller may stream a large file. Only ``\\n`` ends a line.

    Args:
        path: the file.
        allow_empty: yield empty and whitespace-only lines instead of rejecting them (for
            converters that drop such pairs themselves).

    Raises:
        DataError: ``PATH:LINE:`` invalid UTF-8, or an empty / whitespace-only line.
    """
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            line = decode_line(path, lineno, raw.rstrip(b"\n"))
            if not allow_empty:
                check_line(path, lineno, line)
            yield line


def read_lines(path: Path, allow_empty: bool = False) -> list[str]:
    """All lines of ``path`` (see :func:`iter_lines`).

    Raises:
        DataError: as :func:`iter_lines`, and when the file has no line at all.
    """
    lines = list(iter_lines(path, allow_empty))
    if not lines:
        raise DataError(f"{path}: file is empty")
    return lines


def unaligned_error(src_path: Path, n_src: int, tgt_path: Path, n_tgt: int) -> DataError:
    """The error for two sides of a pair that differ in length."""
    longer = src_path if n_src > n_tgt else tgt_path
    return DataError(
        f"{src_path} has {n_src} lines but {tgt_path} has {n_tgt}; "
        f"{longer}:{min(n_src, n_tgt) + 1} is the first line without a counterpart"
    )


def read_parallel(
    src_path: Path, tgt_path: Path, allow_empty: bool = False
) -> tuple[list[str], list[str]]:
    """Two line-aligned files (``allow_empty`` as in :func:`iter_lines`).

    Raises:
        DataError: as :func:`read_lines`, or when the files differ in length (naming the first
            line that has no counterpart).
    """
    src, tgt = read_lines(src_path, allow_empty), read_lines(tgt_path, allow_empty)
    if len(src) != len(tgt):
        raise unaligned_error(src_path, len(src), tgt_path, len(tgt))
    return src, tgt


def read_tsv(path: Path) -> tuple[list[str], list[str]]:
    """A file of ``left<TAB>right`` lines, as two lists.

    Raises:
        DataError: as :func:`read_lines`, or ``PATH:LINE:`` when a line does not hold exactly one
            tab or one of its sides is empty.
    """
    left: list[str] = []
    right: list[str] = []
    for lineno, line in enumerate(iter_lines(path), start=1):
        a, b = split_tsv_line(path, lineno, line)
        left.append(a)
        right.append(b)
    if not left:
        raise DataError(f"{path}: file is empty")
    return left, right
