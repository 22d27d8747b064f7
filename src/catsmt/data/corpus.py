"""Reading a raw parallel corpus into memory: the contract between the readers and the binarizer.

Three layouts are read (``DataConfig.format``):

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

Lines are split on ``\\n`` only and lose their trailing ``\\n`` and ``\\r``, nothing else: a
sentence may contain characters that :meth:`str.splitlines` would treat as line breaks (the WMT
news sets contain U+0085), so never read corpus files with ``splitlines``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from catsmt.data.config import DataConfig
from catsmt.data.errors import DataError

SPLITS = ("train", "valid", "test")
_TED_SPLITS = {"train": "train", "dev": "valid", "test": "test"}
_LANG = r"[A-Za-z0-9_]+"
FAIRSEQ_FILE = re.compile(rf"^(train|valid|test)\.({_LANG})-({_LANG})\.({_LANG})$")
_TSV_FILE = re.compile(rf"^(train|valid|test)\.({_LANG})-({_LANG})\.tsv$")
_TED_DIR = re.compile(r"^([A-Za-z0-9]+)_([A-Za-z0-9]+)$")
_TED_FILE = re.compile(rf"^ted-(train|dev|test)\.orig\.({_LANG})$")


@dataclass
class Corpus:
    """Raw text of every task and split.

    Attributes:
        tasks: sorted task names (the non-pivot language for o2m / m2o, ``src-tgt`` for pairs).
        pairs: task -> (source language, target language).
        splits: split (``train``, ``valid``, ``test``) -> task -> (source lines, target lines).
            All three keys are always there; a task is missing from a split that it has no
            file for (only possible for splits not required by :func:`read_corpus`).
    """

    tasks: list[str]
    pairs: dict[str, tuple[str, str]]
    splits: dict[str, dict[str, tuple[list[str], list[str]]]]

    def sizes(self, split: str) -> dict[str, int]:
        """Number of sentence pairs of each task in ``split`` (tasks without it are left out)."""
        return {task: len(src) for task, (src, _) in self.splits[split].items()}


# ---------------------------------------------------------------------------------------------
# Line readers


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
            raw = raw.rstrip(b"\n").rstrip(b"\r")
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise DataError(
                    f"{path}:{lineno}: invalid UTF-8 ({e.reason} at byte {e.start} of the line)"
                ) from None
            if not allow_empty and not line.strip():
                raise DataError(
                    f"{path}:{lineno}: empty or whitespace-only line; every line must hold a sentence"
                )
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
        longer = src_path if len(src) > len(tgt) else tgt_path
        raise DataError(
            f"{src_path} has {len(src)} lines but {tgt_path} has {len(tgt)}; "
            f"{longer}:{min(len(src), len(tgt)) + 1} is the first line without a counterpart"
        )
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
        fields = line.split("\t")
        if len(fields) != 2:
            raise DataError(
                f"{path}:{lineno}: expected 'source<TAB>target', found {len(fields) - 1} tabs"
            )
        if not fields[0].strip() or not fields[1].strip():
            side = "source" if not fields[0].strip() else "target"
            raise DataError(f"{path}:{lineno}: empty {side} side")
        left.append(fields[0])
        right.append(fields[1])
    if not left:
        raise DataError(f"{path}: file is empty")
    return left, right


# ---------------------------------------------------------------------------------------------
# Finding the files of each language pair


@dataclass(frozen=True)
class _AlignedFiles:
    """One split of one pair stored as one file per language (fairseq and TED layouts)."""

    files: dict[str, Path]  # language -> file

    def read(self, src: str, tgt: str) -> tuple[list[str], list[str]]:
        return read_parallel(self.files[src], self.files[tgt])


@dataclass(frozen=True)
class _TsvFile:
    """One split of one pair stored as a ``left<TAB>right`` file."""

    path: Path
    langs: tuple[str, str]  # language of the left and of the right column

    def read(self, src: str, tgt: str) -> tuple[list[str], list[str]]:
        left, right = read_tsv(self.path)
        return (left, right) if src == self.langs[0] else (right, left)


_Source = _AlignedFiles | _TsvFile
# (a, b) as the files name the pair -> split -> where that split is
_Index = dict[tuple[str, str], dict[str, _Source]]


def _check_pair_name(path: Path, a: str, b: str) -> None:
    if a == b:
        raise DataError(f"{path}: a pair needs two different languages, got '{a}-{b}'")


def _scan_fairseq(root: Path) -> _Index:
    found: dict[tuple[str, str], dict[str, dict[str, Path]]] = {}
    for path in sorted(root.iterdir()):
        m = FAIRSEQ_FILE.match(path.name)
        if not m or not path.is_file():
            continue
        split, a, b, lang = m.groups()
        if lang not in (a, b):
            continue
        _check_pair_name(path, a, b)
        found.setdefault((a, b), {}).setdefault(split, {})[lang] = path
    index: _Index = {}
    for (a, b), by_split in found.items():
        for split, files in by_split.items():
            if len(files) != 2:
                ((lang, path),) = files.items()
                other = b if lang == a else a
                raise DataError(
                    f"found {path} but not its other side {root / f'{split}.{a}-{b}.{other}'}"
                )
            index.setdefault((a, b), {})[split] = _AlignedFiles(files)
    return index


def _scan_tsv(root: Path) -> _Index:
    index: _Index = {}
    for path in sorted(root.iterdir()):
        m = _TSV_FILE.match(path.name)
        if not m or not path.is_file():
            continue
        split, a, b = m.groups()
        _check_pair_name(path, a, b)
        index.setdefault((a, b), {})[split] = _TsvFile(path, (a, b))
    return index


def _scan_ted(root: Path) -> _Index:
    index: _Index = {}
    for pair_dir in sorted(root.iterdir()):
        m = _TED_DIR.match(pair_dir.name)
        if not m or not pair_dir.is_dir():
            continue
        a, b = m.groups()
        _check_pair_name(pair_dir, a, b)
        by_split: dict[str, dict[str, Path]] = {}
        for path in sorted(pair_dir.iterdir()):
            fm = _TED_FILE.match(path.name)
            if fm and fm.group(2) in (a, b) and path.is_file():
                by_split.setdefault(_TED_SPLITS[fm.group(1)], {})[fm.group(2)] = path
        for split, files in by_split.items():
            if len(files) != 2:
                ((lang, path),) = files.items()
                other = b if lang == a else a
                raise DataError(
                    f"found {path} but not its other side {path.with_suffix('.' + other)}"
                )
            index.setdefault((a, b), {})[split] = _AlignedFiles(files)
    return index


_SCANNERS = {"fairseq": _scan_fairseq, "tsv": _scan_tsv, "ted": _scan_ted}


def _expected(fmt: str, src: str, tgt: str, pivot: str, split: str) -> str:
    """The files that would hold ``split`` of ``src``-``tgt``, for an error message."""
    if fmt == "fairseq":
        return f"{split}.{src}-{tgt}.{src} and {split}.{src}-{tgt}.{tgt} (or the {tgt}-{src} pair)"
    if fmt == "tsv":
        return f"{split}.{src}-{tgt}.tsv (or {split}.{tgt}-{src}.tsv)"
    pair_dir = (
        f"{src}_{tgt}" if pivot not in (src, tgt) else f"{src if tgt == pivot else tgt}_{pivot}"
    )
    ted_split = "dev" if split == "valid" else split
    return f"{pair_dir}/ted-{ted_split}.orig.{src} and {pair_dir}/ted-{ted_split}.orig.{tgt}"


# ---------------------------------------------------------------------------------------------
# The corpus


def _task_pairs(cfg: DataConfig, index: _Index, root: Path) -> dict[str, tuple[str, str]]:
    """Task name -> (src, tgt) from the config and the pairs found on disk."""
    found_pairs = {frozenset(key) for key in index}
    if cfg.direction == "pairs":
        if cfg.langs:
            raise DataError(
                "direction=pairs takes its tasks from `pairs`; leave `langs` empty "
                f"(got langs={cfg.langs})"
            )
        tasks: dict[str, tuple[str, str]] = {}
        for name in cfg.pairs:
            parts = name.split("-")
            if len(parts) != 2 or not all(parts) or parts[0] == parts[1]:
                raise DataError(
                    f"pair '{name}' in `pairs` is not of the form src-tgt, e.g. deu-fra"
                )
            if name in tasks:
                raise DataError(f"pair '{name}' is listed twice in `pairs`")
            if frozenset(parts) not in found_pairs:
                have = sorted("-".join(key) for key in index)
                raise DataError(
                    f"no data for pair '{name}' in {root} ({cfg.format} layout); "
                    f"found: {', '.join(have) or 'nothing'}"
                )
            tasks[name] = (parts[0], parts[1])
        return tasks

    pivot = cfg.pivot
    found = sorted({lang for key in found_pairs if pivot in key for lang in key if lang != pivot})
    if not found:
        raise DataError(
            f"no corpus files for pivot '{pivot}' in {root} ({cfg.format} layout); expected files "
            f"like {_expected(cfg.format, pivot, 'xxx', pivot, 'train')}"
        )
    langs = cfg.langs or found
    for lang in langs:
        if lang == pivot:
            raise DataError(f"`langs` lists the pivot '{pivot}'; list only the other languages")
        if langs.count(lang) > 1:
            raise DataError(f"language '{lang}' is listed twice in `langs`")
        if lang not in found:
            raise DataError(
                f"no data for language '{lang}' in {root} ({cfg.format} layout, pivot '{pivot}'); "
                f"found: {', '.join(found)}"
            )
    if cfg.direction == "o2m":
        return {lang: (pivot, lang) for lang in langs}
    return {lang: (lang, pivot) for lang in langs}


def read_corpus(cfg: DataConfig, *, required: tuple[str, ...] = ("train", "valid")) -> Corpus:
    """Read every task and split named by ``cfg`` from ``cfg.dir``.

    Args:
        cfg: the data section; uses ``dir``, ``format``, ``direction``, ``pivot``, ``langs``
            (empty = every language found with the pivot) and ``pairs``.
        required: splits every task must have. Training needs ``train`` and ``valid``;
            evaluation may pass ``("test",)``; a converter that copies whatever is there, ``()``.

    Returns:
        The corpus, with sorted task names.

    Raises:
        DataError: naming the file and line of a malformed file (unaligned sides, an empty line,
            invalid UTF-8), the language that has no data (with the languages found), or the
            task and the file expected for a missing required split.
        ValueError: from ``cfg.validate()`` for an invalid config section.
    """
    cfg.validate()
    for split in required:
        if split not in SPLITS:
            raise DataError(f"unknown split '{split}' in `required`; valid: {', '.join(SPLITS)}")
    root = Path(cfg.dir)
    if not root.is_dir():
        raise DataError(f"corpus directory {root} does not exist (data.dir)")
    index = _SCANNERS[cfg.format](root)
    task_pairs = _task_pairs(cfg, index, root)

    splits: dict[str, dict[str, tuple[list[str], list[str]]]] = {split: {} for split in SPLITS}
    for task, (src, tgt) in sorted(task_pairs.items()):
        for split in SPLITS:
            source = index.get((src, tgt), {}).get(split) or index.get((tgt, src), {}).get(split)
            if source is None:
                if split in required:
                    why = " (needed for training)" if split == "valid" else ""
                    raise DataError(
                        f"language '{task}' has no {split} set{why} in {root}: expected "
                        f"{_expected(cfg.format, src, tgt, cfg.pivot, split)}"
                    )
                continue
            splits[split][task] = source.read(src, tgt)
    return Corpus(tasks=sorted(task_pairs), pairs=dict(sorted(task_pairs.items())), splits=splits)
