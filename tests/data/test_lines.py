"""The streaming line checks against the list readers: same lines, same errors, any block size.

``index_lines`` finds bad lines with regular expressions over blocks of bytes; the list
readers (``read_lines``, ``read_tsv``) go line by line. On random bytes built from the pieces
that trouble readers, with blocks and chunks of a few bytes and lines (so that lines straddle
blocks, are longer than a block, and chunks end anywhere), the two must agree exactly: the
same message for the first bad line, or the same lines read back chunk by chunk.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catsmt.data import lines as lines_module
from catsmt.data.errors import DataError
from catsmt.data.lines import PairLines, index_lines, read_lines, read_tsv

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

PIECES = st.sampled_from(
    [b"word", b"Satz", "\u0105\u017e".encode(), b" ", b"\t", b"\r", b"\x0b", b"\x0c", b"\x1c",
     "\x85".encode(), "\u2028".encode(), "\u3000".encode(), "\xa0".encode(), b"\xff", b"\xc3",
     b"\x00", b"\xef\xbb\xbf", b"\n"]
)
LINE = st.lists(PIECES, max_size=6).map(b"".join)
TEXT = st.one_of(
    st.lists(LINE, max_size=8).map(b"\n".join),
    st.lists(LINE, max_size=8).map(lambda lines: b"".join(x + b"\n" for x in lines)),
)
# TSV: mostly well-formed lines, so that a bad line is often the first one (an empty side
# hidden behind spaces, a second tab) rather than masked by an earlier error
SIDE = st.lists(PIECES.filter(lambda p: p not in (b"\t", b"\n")), max_size=3).map(b"".join)
TSV_LINE = st.one_of(
    st.tuples(SIDE, SIDE).map(b"\t".join), st.tuples(SIDE, SIDE).map(b"\t".join),
    st.tuples(SIDE, SIDE, SIDE).map(b"\t".join), LINE,
)
TSV_TEXT = st.lists(TSV_LINE, max_size=8).map(lambda lines: b"".join(x + b"\n" for x in lines))
SMALL = st.tuples(st.integers(1, 9), st.integers(1, 4))  # block bytes, chunk lines


def outcome(read, path: Path) -> tuple[str, object]:
    try:
        return "ok", read(path)
    except DataError as e:
        return "error", str(e)


def streamed(path: Path, tsv: bool) -> tuple[str, object]:
    try:
        index = index_lines(path, tsv=tsv)
    except DataError as e:
        return "error", str(e)
    chunks = [index.read_chunk(i) for i in range(index.chunks)]
    assert all(len(c) == lines_module.CHUNK_LINES for c in chunks[:-1])
    lines = [line for c in chunks for line in c]
    assert len(lines) == index.lines
    if tsv:
        pairs = PairLines.tsv(index, swap=False)
        left = [x for c in pairs.chunks for x in c.read()[0]]
        right = [x for c in pairs.chunks for x in c.read()[1]]
        assert [f"{a}\t{b}" for a, b in zip(left, right, strict=True)] == lines
        return "ok", (left, right)
    return "ok", lines


def agree(blob: bytes, small: tuple[int, int], tsv: bool) -> None:
    """The streamed check of ``blob`` at these block and chunk sizes equals the list reader's."""
    block, chunk = small
    with tempfile.TemporaryDirectory() as tmp, mock.patch.object(lines_module, "BLOCK_BYTES", block), \
            mock.patch.object(lines_module, "CHUNK_LINES", chunk):
        path = Path(tmp) / ("train.aaa-eng.tsv" if tsv else "train.eng-aaa.eng")
        path.write_bytes(blob)
        assert streamed(path, tsv=tsv) == outcome(read_tsv if tsv else read_lines, path)


@FUZZ
@given(TEXT, SMALL)
def test_index_lines_agrees_with_read_lines(blob: bytes, small: tuple[int, int]) -> None:
    agree(blob, small, tsv=False)


@FUZZ
@given(st.one_of(TEXT, TSV_TEXT, TSV_TEXT), SMALL)
def test_index_lines_agrees_with_read_tsv(blob: bytes, small: tuple[int, int]) -> None:
    agree(blob, small, tsv=True)


@pytest.mark.parametrize(
    ("blob", "message"),
    [(b"a\n\nb\n", ":2: empty"), (b"a\n \r\n", ":2: empty"), (b"a\nb\n\xff\n", ":3: invalid UTF-8"),
     (b"a\n\n\xff\n", ":2: empty"), (b"", "file is empty"), (b"a\n\n", ":2: empty")],
)  # fmt: skip
def test_the_first_bad_line_is_named(tmp_path: Path, blob: bytes, message: str) -> None:
    path = tmp_path / "f"
    path.write_bytes(blob)
    with pytest.raises(DataError, match=message):
        index_lines(path)


def test_pick_reads_the_pairs_at_any_indices(tmp_path: Path) -> None:
    src = [f"s{i}" for i in range(23)]
    tgt = [f"t{i}" for i in range(23)]
    (tmp_path / "a").write_text("".join(x + "\n" for x in src))
    (tmp_path / "b").write_text("".join(x + "\r\n" for x in tgt))
    with mock.patch.object(lines_module, "CHUNK_LINES", 5):
        pairs = PairLines.aligned(index_lines(tmp_path / "a"), index_lines(tmp_path / "b"))
        memory = PairLines.in_memory(src, tgt)
    assert len(pairs.chunks) == len(memory.chunks) == 5
    idx = np.array([22, 0, 5, 5, 4, 17])
    assert pairs.pick(idx) == memory.pick(idx) == {i: (src[i], tgt[i]) for i in idx.tolist()}
