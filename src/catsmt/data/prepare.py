"""Checking a user's corpus folder before any training: what ``catsmt prepare DIR`` reports.

:func:`check_corpus` finds the files of every pair and split with the same scanner and reads
them with the same readers as :func:`catsmt.data.corpus.read_corpus`, but goes on past a bad
file, so one run lists every problem: a file that is not UTF-8 or has an empty line, two sides
of unequal length, a language without a train or valid split, a pivot that no pair has. It
infers the layout and the pivot when they are not given, and suggests the ``data`` section
that trains on the folder (:meth:`CorpusCheck.starter_config`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from catsmt.data.config import DIRECTIONS, FORMATS, DataConfig
from catsmt.data.corpus import (
    SPLITS,
    CorpusIndex,
    expected_files,
    other_layouts,
    scan_corpus,
    task_pairs,
)
from catsmt.data.errors import DataError

#: Splits that training reads for every language; ``test`` is for ``catsmt evaluate``.
TRAINING_SPLITS = ("train", "valid")


@dataclass
class SplitCheck:
    """One split of one pair as found on disk.

    Attributes:
        files: its file(s).
        pairs: sentence pairs read (0 when unreadable).
        error: the reader's message when it cannot be read ('' when it can).
    """

    files: list[Path]
    pairs: int = 0
    error: str = ""


@dataclass
class CorpusCheck:
    """What :func:`check_corpus` found.

    Attributes:
        root: the folder.
        format: its layout (given or inferred).
        pivot: the shared language of o2m / m2o (given or inferred; '' for direction=pairs).
        direction: o2m, m2o or pairs.
        pairs: explicit src-tgt pairs when direction=pairs.
        found: (a, b) as the files name the pair -> split -> what is there.
        tasks: task -> (source, target) as training would read them (empty when it cannot).
        problems: what would stop training (every one; none = the folder trains).
        notes: what would not stop it but is worth knowing (no test split, unused pairs).
    """

    root: Path
    format: str
    pivot: str
    direction: str
    pairs: list[str] = field(default_factory=list)
    found: dict[tuple[str, str], dict[str, SplitCheck]] = field(default_factory=dict)
    tasks: dict[str, tuple[str, str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def languages(self) -> list[str]:
        return sorted({lang for pair in self.found for lang in pair})

    def data_section(self) -> dict[str, Any]:
        """The ``data`` keys that train on this folder (the others keep their defaults)."""
        data: dict[str, Any] = {"dir": str(self.root.resolve()), "format": self.format}
        if self.direction == "pairs":
            data.update(direction="pairs", pairs=list(self.pairs))
        else:
            data.update(pivot=self.pivot, direction=self.direction)
        return data

    def starter_config(self) -> str:
        """A YAML config that trains on this folder: its ``data`` section, a small model and a
        run folder named after it, with comments on where to go from there."""
        cfg = {
            "data": self.data_section(),
            "model": {"preset": "tiny"},
            "train": {"run_dir": f"runs/{self.root.resolve().name}", "max_steps": 1000},
            "weighting": {"method": "temperature"},
        }
        return (
            f"# A starter config for {self.root.resolve()}, written by `catsmt prepare`.\n"
            "# Train with: catsmt train THIS_FILE [key=value ...]\n"
            "# Every key, its default and its meaning: catsmt config\n"
            + yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True)
        )

    def table(self) -> str:
        """The pairs found, with sentence pairs per split, then the tasks, problems and notes."""
        n = len(self.found)
        lines = [
            f"corpus {self.root} ({self.format} layout): {n} pair{'s' * (n != 1)}, "
            f"languages: {', '.join(self.languages) or 'none'}"
        ]
        if self.found:
            width = max(4, *(len("-".join(pair)) for pair in self.found))
            lines.append(f"{'pair':<{width}}  " + "  ".join(f"{s:>8}" for s in SPLITS))
            for pair, splits in sorted(self.found.items()):
                cells = []
                for split in SPLITS:
                    check = splits.get(split)
                    cells.append("-" if check is None else "error" if check.error else str(check.pairs))
                lines.append(f"{'-'.join(pair):<{width}}  " + "  ".join(f"{c:>8}" for c in cells))
        if self.tasks:
            how = "direction=pairs" if self.direction == "pairs" else f"{self.direction}, pivot '{self.pivot}'"
            names = ", ".join(f"{src}->{tgt}" for src, tgt in self.tasks.values())
            lines.append(f"training tasks ({how}): {names}")
        lines += [f"problem: {p}" for p in self.problems]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def _infer_format(root: Path) -> str:
    """The layout in which ``root`` holds the most pairs ('fairseq' when it holds none)."""
    counts = {fmt: len(scan_corpus(root, fmt, [])) for fmt in FORMATS}
    best = max(FORMATS, key=lambda fmt: counts[fmt])  # ties: the first in FORMATS
    return best if counts[best] else FORMATS[0]


def _shared_language(index: CorpusIndex) -> str | None:
    """The language of every pair; of two such (one pair only), the one like the default
    pivot (``en`` for ``eng``), else the first as the files name it."""
    pairs = sorted(index)
    if not pairs:
        return None
    shared = [lang for lang in pairs[0] if all(lang in pair for pair in pairs)]
    like_default = [lang for lang in shared if DataConfig.pivot.startswith(lang[:2])]
    candidates = like_default or shared
    return candidates[0] if candidates else None


def _read_all(index: CorpusIndex, problems: list[str]) -> dict[tuple[str, str], dict[str, SplitCheck]]:
    """Check every split of every pair as training reads it, collecting the errors.

    Streams (:meth:`Source.lines`): a folder of any size is checked in bounded memory."""
    found: dict[tuple[str, str], dict[str, SplitCheck]] = {}
    for (a, b), splits in sorted(index.items()):
        for split in SPLITS:
            source = splits.get(split)
            if source is None:
                continue
            check = SplitCheck(files=source.paths)
            try:
                check.pairs = source.lines(a, b).size
            except DataError as e:
                check.error = str(e)
                problems.append(str(e))
            except OSError as e:  # unreadable: permissions, a broken link
                check.error = f"{e.filename or source.paths[0]}: {e.strerror or e}"
                problems.append(check.error)
            found.setdefault((a, b), {})[split] = check
    return found


def check_corpus(
    root: str | Path,
    fmt: str | None = None,
    pivot: str | None = None,
    direction: str = "o2m",
    pairs: list[str] | None = None,
) -> CorpusCheck:
    """Check a corpus folder as training would read it, reporting every problem at once.

    Args:
        root: the folder.
        fmt: its layout (``DataConfig.format``); None = the layout it holds most pairs in.
        pivot: the shared language of o2m / m2o; None = the language of every pair.
        direction: o2m, m2o or pairs.
        pairs: the src-tgt pairs of direction=pairs; None = every pair found, as named.

    Returns:
        The check; ``check.ok`` when ``catsmt train`` with ``check.data_section()`` would
        read the corpus.

    Raises:
        DataError: ``root`` is not a folder, or ``fmt`` / ``direction`` is not a valid name.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"corpus directory {root} does not exist")
    if fmt is not None and fmt not in FORMATS:
        raise DataError(f"format must be one of {', '.join(FORMATS)}, got '{fmt}'")
    if direction not in DIRECTIONS:
        raise DataError(f"direction must be one of {', '.join(DIRECTIONS)}, got '{direction}'")
    fmt = fmt or _infer_format(root)
    problems: list[str] = []
    notes: list[str] = []
    index = scan_corpus(root, fmt, problems)
    found = _read_all(index, problems)

    if direction == "pairs":
        pairs = list(pairs) if pairs else ["-".join(pair) for pair in sorted(index)]
        pivot = ""
    else:
        if pivot is None:
            pivot = _shared_language(index) or DataConfig.pivot
        pairs = []
    check = CorpusCheck(root, fmt, pivot, direction, pairs, found, problems=problems, notes=notes)
    if not index:
        others = other_layouts(root, fmt)
        if others:
            hint = f"it holds files in the {' and '.join(others)} layout: pass --format {others[0]} (data.format={others[0]})"
        else:
            hint = "file names by layout: " + "; ".join(
                f"{f}: {expected_files(f, 'xx', 'yy', 'yy', 'train')}" for f in FORMATS
            )
        problems.append(f"no corpus files in {root} ({fmt} layout); {hint}")
        return check

    cfg = DataConfig(dir=str(root), format=fmt, direction=direction, pairs=pairs, pivot=pivot or DataConfig.pivot)
    try:
        cfg.validate()
        check.tasks = task_pairs(cfg, index, root)
    except (DataError, ValueError) as e:
        problems.append(str(e))
        return check

    used: set[frozenset[str]] = set()
    for task, (src, tgt) in sorted(check.tasks.items()):
        key = (src, tgt) if (src, tgt) in index else (tgt, src)
        used.add(frozenset(key))
        for split in SPLITS:
            if split in found.get(key, {}):
                continue
            expected = expected_files(fmt, src, tgt, cfg.pivot, split)
            if split in TRAINING_SPLITS:
                problems.append(f"language '{task}' has no {split} split (training needs it): expected {expected}")
            else:
                notes.append(f"language '{task}' has no test split (`catsmt evaluate RUN` needs one): expected {expected}")
    unused = sorted("-".join(pair) for pair in index if frozenset(pair) not in used)
    if unused:
        why = "not listed in --pairs" if direction == "pairs" else f"without the pivot '{pivot}'"
        notes.append(f"pairs not used ({why}): {', '.join(unused)}")
    return check


__all__ = ["CorpusCheck", "SplitCheck", "check_corpus"]
