"""Corpus layouts: where the files of each pair and split are, one registry for all of them.

:data:`LAYOUTS` maps a ``DataConfig.format`` name to its :class:`Layout`: how to find the files
(``scan``) and how to name the files it expects in an error message (``expected``). Every list
of layouts in catsmt (the config's choices, ``catsmt prepare``'s inference, the messages that
suggest another layout) is derived from it, so a new layout is one scanner and one entry here.

``fairseq``
    ``DIR/{split}.{a}-{b}.{a}`` and ``DIR/{split}.{a}-{b}.{b}``, line-aligned, with ``split`` one
    of ``train``, ``valid``, ``test``. As in fairseq, the files of the pair ``a-b`` also serve the
    reverse direction ``b-a``; when both ``a-b`` and ``b-a`` files exist, the ones named in the
    task's own direction are read.
``tsv``
    ``DIR/{split}.{a}-{b}.tsv``, one ``a<TAB>b`` pair per line.
``ted``
    ``DIR/{x}_{y}/ted-{train,dev,test}.orig.{x|y}`` (the TED talks corpus of Qi et al., 2018);
    ``dev`` is read as the split ``valid``.

A scanner reads no file; each split it finds is a :data:`Source`, which reads its lines into
lists (``read``) or checks them and cuts them into chunks for streaming (``lines``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from catsmt.data.errors import DataError
from catsmt.data.lines import (
    LineIndex,
    PairLines,
    index_lines,
    read_parallel,
    read_tsv,
    unaligned_error,
)

SPLITS = ("train", "valid", "test")
"""The splits of a corpus, in the order they are read and reported."""

HELD_OUT = ("valid", "test")
"""The splits a model is evaluated on."""

_TED_SPLITS = {"train": "train", "dev": "valid", "test": "test"}
_LANG = r"[A-Za-z0-9_]+"
FAIRSEQ_FILE = re.compile(rf"^(train|valid|test)\.({_LANG})-({_LANG})\.({_LANG})$")
_TSV_FILE = re.compile(rf"^(train|valid|test)\.({_LANG})-({_LANG})\.tsv$")
_TED_DIR = re.compile(r"^([A-Za-z0-9]+)_([A-Za-z0-9]+)$")
_TED_FILE = re.compile(rf"^ted-(train|dev|test)\.orig\.({_LANG})$")


@dataclass(frozen=True)
class _AlignedFiles:
    """One split of one pair stored as one file per language (fairseq and TED layouts)."""

    files: dict[str, Path]  # language -> file

    @property
    def paths(self) -> list[Path]:
        return sorted(self.files.values())

    def read(self, src: str, tgt: str) -> tuple[list[str], list[str]]:
        return read_parallel(self.files[src], self.files[tgt])

    def lines(self, src: str, tgt: str, on_bytes: Callable[[int], object] | None = None) -> PairLines:
        """The split checked as :meth:`read` checks it, in chunks, without holding its text."""
        return self.assemble(src, tgt, [index_lines(p, t, on_bytes) for p, t in self.index_jobs(src, tgt)])

    def index_jobs(self, src: str, tgt: str) -> list[tuple[Path, bool]]:
        """The files :meth:`lines` checks, in order, as ``(path, tsv)`` for :func:`index_lines`."""
        return [(self.files[src], False), (self.files[tgt], False)]

    def assemble(self, src: str, tgt: str, indexes: list[LineIndex]) -> PairLines:
        """:meth:`lines` from the :func:`index_lines` of :meth:`index_jobs`."""
        a, b = indexes
        if a.lines != b.lines:
            raise unaligned_error(a.path, a.lines, b.path, b.lines)
        return PairLines.aligned(a, b)


@dataclass(frozen=True)
class _TsvFile:
    """One split of one pair stored as a ``left<TAB>right`` file."""

    path: Path
    langs: tuple[str, str]  # language of the left and of the right column

    @property
    def paths(self) -> list[Path]:
        return [self.path]

    def read(self, src: str, tgt: str) -> tuple[list[str], list[str]]:
        left, right = read_tsv(self.path)
        return (left, right) if src == self.langs[0] else (right, left)

    def lines(self, src: str, tgt: str, on_bytes: Callable[[int], object] | None = None) -> PairLines:
        """The split checked as :meth:`read` checks it, in chunks, without holding its text."""
        return self.assemble(src, tgt, [index_lines(self.path, tsv=True, on_bytes=on_bytes)])

    def index_jobs(self, src: str, tgt: str) -> list[tuple[Path, bool]]:
        """The files :meth:`lines` checks, as ``(path, tsv)`` for :func:`index_lines`."""
        return [(self.path, True)]

    def assemble(self, src: str, tgt: str, indexes: list[LineIndex]) -> PairLines:
        """:meth:`lines` from the :func:`index_lines` of :meth:`index_jobs`."""
        (index,) = indexes
        return PairLines.tsv(index, swap=src != self.langs[0])


#: One split of one pair on disk: ``paths`` (its files), ``read(src, tgt)`` (its lines as lists)
#: and ``lines(src, tgt, on_bytes=None)`` (checked, in chunks; also as ``index_jobs`` whose
#: :func:`index_lines` results ``assemble`` combines, so the files can be checked in parallel).
Source = _AlignedFiles | _TsvFile
#: (a, b) as the files name the pair -> split -> where that split is.
CorpusIndex = dict[tuple[str, str], dict[str, Source]]
# Where a scanner puts a problem with a file name: raised at once (None), or collected.
_Problems = list[str] | None


def _problem(problems: _Problems, message: str) -> None:
    if problems is None:
        raise DataError(message)
    problems.append(message)


def _pair_name_ok(path: Path, a: str, b: str, problems: _Problems) -> bool:
    if a == b:
        _problem(problems, f"{path}: a pair needs two different languages, got '{a}-{b}'")
        return False
    return True


def _scan_fairseq(root: Path, problems: _Problems) -> CorpusIndex:
    found: dict[tuple[str, str], dict[str, dict[str, Path]]] = {}
    for path in sorted(root.iterdir()):
        m = FAIRSEQ_FILE.match(path.name)
        if not m or not path.is_file():
            continue
        split, a, b, lang = m.groups()
        if lang not in (a, b) or not _pair_name_ok(path, a, b, problems):
            continue
        found.setdefault((a, b), {}).setdefault(split, {})[lang] = path
    index: CorpusIndex = {}
    for (a, b), by_split in found.items():
        for split, files in by_split.items():
            if len(files) != 2:
                ((lang, path),) = files.items()
                other = b if lang == a else a
                _problem(
                    problems,
                    f"found {path} but not its other side {root / f'{split}.{a}-{b}.{other}'}",
                )
                continue
            index.setdefault((a, b), {})[split] = _AlignedFiles(files)
    return index


def _scan_tsv(root: Path, problems: _Problems) -> CorpusIndex:
    index: CorpusIndex = {}
    for path in sorted(root.iterdir()):
        m = _TSV_FILE.match(path.name)
        if not m or not path.is_file():
            continue
        split, a, b = m.groups()
        if _pair_name_ok(path, a, b, problems):
            index.setdefault((a, b), {})[split] = _TsvFile(path, (a, b))
    return index


def _scan_ted(root: Path, problems: _Problems) -> CorpusIndex:
    index: CorpusIndex = {}
    for pair_dir in sorted(root.iterdir()):
        m = _TED_DIR.match(pair_dir.name)
        if not m or not pair_dir.is_dir():
            continue
        a, b = m.groups()
        if not _pair_name_ok(pair_dir, a, b, problems):
            continue
        by_split: dict[str, dict[str, Path]] = {}
        for path in sorted(pair_dir.iterdir()):
            fm = _TED_FILE.match(path.name)
            if fm and fm.group(2) in (a, b) and path.is_file():
                by_split.setdefault(_TED_SPLITS[fm.group(1)], {})[fm.group(2)] = path
        for split, files in by_split.items():
            if len(files) != 2:
                ((lang, path),) = files.items()
                other = b if lang == a else a
                _problem(
                    problems, f"found {path} but not its other side {path.with_suffix('.' + other)}"
                )
                continue
            index.setdefault((a, b), {})[split] = _AlignedFiles(files)
    return index


def _expected_fairseq(src: str, tgt: str, pivot: str, split: str) -> str:
    return f"{split}.{src}-{tgt}.{src} and {split}.{src}-{tgt}.{tgt} (or the {tgt}-{src} pair)"


def _expected_tsv(src: str, tgt: str, pivot: str, split: str) -> str:
    return f"{split}.{src}-{tgt}.tsv (or {split}.{tgt}-{src}.tsv)"


def _expected_ted(src: str, tgt: str, pivot: str, split: str) -> str:
    pair_dir = (
        f"{src}_{tgt}" if pivot not in (src, tgt) else f"{src if tgt == pivot else tgt}_{pivot}"
    )
    ted_split = "dev" if split == "valid" else split
    return f"{pair_dir}/ted-{ted_split}.orig.{src} and {pair_dir}/ted-{ted_split}.orig.{tgt}"


@dataclass(frozen=True)
class Layout:
    """How one corpus layout stores its files.

    Attributes:
        name: the ``data.format`` value.
        pattern: the file names, for help texts.
        scan: ``(root, problems) -> CorpusIndex``, reading no file (see :func:`scan_corpus`).
        expected: ``(src, tgt, pivot, split) -> str``, the files that would hold a split.
    """

    name: str
    pattern: str
    scan: Callable[[Path, _Problems], CorpusIndex]
    expected: Callable[[str, str, str, str], str]


LAYOUTS: dict[str, Layout] = {
    layout.name: layout
    for layout in (
        Layout("fairseq", "{split}.{src}-{tgt}.{lang}", _scan_fairseq, _expected_fairseq),
        Layout("tsv", "{split}.{src}-{tgt}.tsv", _scan_tsv, _expected_tsv),
        Layout("ted", "xxx_eng/ted-{split}.orig.{lang}", _scan_ted, _expected_ted),
    )
}
"""Every layout catsmt reads, by ``data.format`` name; the first is the default."""


def scan_corpus(root: Path, fmt: str, problems: list[str] | None = None) -> CorpusIndex:
    """Find the files of every pair and split under ``root`` in layout ``fmt``, reading none.

    Args:
        root: the corpus directory (must exist).
        fmt: a name in :data:`LAYOUTS`.
        problems: None = raise on the first badly named file; a list = append its message
            there and go on (``catsmt prepare`` reports them all).

    Returns:
        (a, b) as the files name the pair -> split -> its :data:`Source`.

    Raises:
        DataError: a file without its other side, or a pair of one language twice (unless
            ``problems`` is given).
    """
    return LAYOUTS[fmt].scan(root, problems)


def other_layouts(root: Path, fmt: str) -> list[str]:
    """The layouts other than ``fmt`` in which ``root`` holds some corpus files."""
    found = []
    for name, layout in LAYOUTS.items():
        if name != fmt and layout.scan(root, []):
            found.append(name)
    return found


def expected_files(fmt: str, src: str, tgt: str, pivot: str, split: str) -> str:
    """The files that would hold ``split`` of ``src``-``tgt``, for an error message."""
    return LAYOUTS[fmt].expected(src, tgt, pivot, split)
