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

    @property
    def paths(self) -> list[Path]:
        return sorted(self.files.values())

    def read(self, src: str, tgt: str) -> tuple[list[str], list[str]]:
        return read_parallel(self.files[src], self.files[tgt])


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


#: One split of one pair on disk: ``paths`` (its files) and ``read(src, tgt)`` (its lines).
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


_SCANNERS = {"fairseq": _scan_fairseq, "tsv": _scan_tsv, "ted": _scan_ted}


def scan_corpus(root: Path, fmt: str, problems: list[str] | None = None) -> CorpusIndex:
    """Find the files of every pair and split under ``root`` in layout ``fmt``, reading none.

    Args:
        root: the corpus directory (must exist).
        fmt: one of :data:`catsmt.data.config.FORMATS`.
        problems: None = raise on the first badly named file; a list = append its message
            there and go on (``catsmt prepare`` reports them all).

    Returns:
        (a, b) as the files name the pair -> split -> its :data:`Source`.

    Raises:
        DataError: a file without its other side, or a pair of one language twice (unless
            ``problems`` is given).
    """
    return _SCANNERS[fmt](root, problems)


def other_layouts(root: Path, fmt: str) -> list[str]:
    """The layouts other than ``fmt`` in which ``root`` holds some corpus files."""
    found = []
    for other in _SCANNERS:
        if other != fmt and _SCANNERS[other](root, []):
            found.append(other)
    return found


def pivot_hint(pivot: str, index: CorpusIndex) -> str:
    """What to set when no pair in ``index`` has ``pivot``: the language the pairs share.

    A corpus with two-letter codes (``train.en-be.tsv``) and the default pivot ``eng`` gives
    ``the files use 'en': set data.pivot=en``. '' when ``index`` is empty.
    """
    if not index:
        return ""
    pairs = sorted(index)
    count: dict[str, int] = {}
    for pair in pairs:
        for lang in pair:
            count[lang] = count.get(lang, 0) + 1
    shared = [lang for lang, n in count.items() if n == len(pairs)]
    if shared:
        # both sides of a single pair are shared: take the one that looks like the pivot
        # (en for eng, de for deu), else the first
        best = sorted(shared, key=lambda lang: (not pivot.startswith(lang[:2]), lang))[0]
        return f"the files use '{best}' in every pair: set data.pivot={best}"
    names = ", ".join("-".join(pair) for pair in pairs)
    return (
        f"the pairs found ({names}) share no language: set data.pivot to the language of "
        f"your pairs with the most data, or data.direction=pairs with data.pairs=[{pairs[0][0]}-{pairs[0][1]}, ...]"
    )


def expected_files(fmt: str, src: str, tgt: str, pivot: str, split: str) -> str:
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


def task_pairs(cfg: DataConfig, index: CorpusIndex, root: Path) -> dict[str, tuple[str, str]]:
    """Task name -> (src, tgt) from the config and the pairs found on disk.

    Raises:
        DataError: a listed language or pair without data (naming what was found), the pivot
            in no pair (with :func:`pivot_hint`), or a malformed ``langs`` / ``pairs``.
    """
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
        hint = pivot_hint(pivot, index)
        if not hint:
            others = other_layouts(root, cfg.format)
            hint = f"expected files like {expected_files(cfg.format, pivot, 'xxx', pivot, 'train')}"
            if others:
                hint += f"; {root} holds files in the {' and '.join(others)} layout: set data.format={others[0]}"
        raise DataError(f"no corpus files for pivot '{pivot}' in {root} ({cfg.format} layout); {hint}")
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
    index = scan_corpus(root, cfg.format)
    tasks = task_pairs(cfg, index, root)

    splits: dict[str, dict[str, tuple[list[str], list[str]]]] = {split: {} for split in SPLITS}
    for task, (src, tgt) in sorted(tasks.items()):
        for split in SPLITS:
            source = index.get((src, tgt), {}).get(split) or index.get((tgt, src), {}).get(split)
            if source is None:
                if split in required:
                    why = " (needed for training)" if split == "valid" else ""
                    raise DataError(
                        f"language '{task}' has no {split} set{why} in {root}: expected "
                        f"{expected_files(cfg.format, src, tgt, cfg.pivot, split)}"
                    )
                continue
            splits[split][task] = source.read(src, tgt)
    return Corpus(tasks=sorted(tasks), pairs=dict(sorted(tasks.items())), splits=splits)
