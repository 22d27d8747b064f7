"""Reading a raw parallel corpus: which tasks a config names, and their text in memory.

The layouts (where the files are) live in :mod:`catsmt.data.layouts`, the line rules in
:mod:`catsmt.data.lines`: lines are split on ``\\n`` only and lose their trailing ``\\n`` and
``\\r``, nothing else (a sentence may contain characters that :meth:`str.splitlines` would
treat as line breaks; the WMT news sets contain U+0085), so never read corpus files with
``splitlines``. :func:`read_corpus` holds every line in memory (fine for valid and test sets
and converters); :func:`corpus_lines` checks the same files and hands them out in chunks,
which is how training data is binarized at any size.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from catsmt.data.config import DataConfig
from catsmt.data.errors import DataError
from catsmt.data.layouts import (
    FAIRSEQ_FILE,
    HELD_OUT,
    LAYOUTS,
    SPLITS,
    CorpusIndex,
    Source,
    expected_files,
    other_layouts,
    scan_corpus,
)
from catsmt.data.lines import (
    LineIndex,
    PairLines,
    index_lines,
    iter_lines,
    read_lines,
    read_parallel,
    read_tsv,
)
from catsmt.data.workers import ordered_map

__all__ = [
    "FAIRSEQ_FILE", "HELD_OUT", "LAYOUTS", "SPLITS", "Corpus", "CorpusIndex", "CorpusLines",
    "Source", "corpus_lines", "expected_files", "iter_lines", "other_layouts", "pivot_hint",
    "read_corpus", "read_lines", "read_parallel", "read_tsv", "scan_corpus", "task_pairs",
]


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


def _sources(
    cfg: DataConfig, required: tuple[str, ...]
) -> tuple[dict[str, tuple[str, str]], list[tuple[str, str, Source | DataError]]]:
    """The tasks ``cfg`` names and, task by task and split by split (the order in which a
    reader meets them), where each split is, or the error for a required split that is
    missing. Reads no file.

    Raises:
        DataError, ValueError: as :func:`read_corpus`, for errors found without reading.
    """
    cfg.validate()
    for split in required:
        if split not in SPLITS:
            raise DataError(f"unknown split '{split}' in `required`; valid: {', '.join(SPLITS)}")
    root = Path(cfg.dir)
    if not root.is_dir():
        raise DataError(f"corpus directory {root} does not exist (data.dir)")
    index = scan_corpus(root, cfg.format)
    tasks = dict(sorted(task_pairs(cfg, index, root).items()))
    plan: list[tuple[str, str, Source | DataError]] = []
    for task, (src, tgt) in tasks.items():
        for split in SPLITS:
            source = index.get((src, tgt), {}).get(split) or index.get((tgt, src), {}).get(split)
            if source is not None:
                plan.append((task, split, source))
            elif split in required:
                why = " (needed for training)" if split == "valid" else ""
                plan.append((task, split, DataError(
                    f"language '{task}' has no {split} set{why} in {root}: expected "
                    f"{expected_files(cfg.format, src, tgt, cfg.pivot, split)}"
                )))
    return tasks, plan


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
    tasks, plan = _sources(cfg, required)
    splits: dict[str, dict[str, tuple[list[str], list[str]]]] = {split: {} for split in SPLITS}
    for task, split, source in plan:
        if isinstance(source, DataError):
            raise source
        splits[split][task] = source.read(*tasks[task])
    return Corpus(tasks=list(tasks), pairs=tasks, splits=splits)


@dataclass
class CorpusLines:
    """Every task and split of a corpus, checked and cut into chunks, no text held.

    The streaming counterpart of :class:`Corpus`, what :func:`catsmt.data.binarize.binarize`
    and :func:`catsmt.data.vocab.vocab_sample` read.

    Attributes:
        tasks: sorted task names.
        pairs: task -> (source language, target language).
        lines: split -> task -> its checked lines.
    """

    tasks: list[str]
    pairs: dict[str, tuple[str, str]]
    lines: dict[str, dict[str, PairLines]]

    @classmethod
    def from_corpus(cls, corpus: Any) -> CorpusLines:
        """An in-memory corpus in chunks (tests, converted corpora).

        Raises:
            DataError: a split whose two sides differ in length.
        """
        lines: dict[str, dict[str, PairLines]] = {}
        for split, by_task in corpus.splits.items():
            for task, (src, tgt) in by_task.items():
                if len(src) != len(tgt):
                    raise DataError(
                        f"{split} data of '{task}' has {len(src)} source and {len(tgt)} target lines"
                    )
                lines.setdefault(split, {})[task] = PairLines.in_memory(src, tgt)
        return cls(list(corpus.tasks), dict(corpus.pairs), lines)

    def sizes(self, split: str) -> dict[str, int]:
        """Number of sentence pairs of each task in ``split``."""
        return {task: lines.size for task, lines in self.lines.get(split, {}).items()}


def corpus_lines(
    cfg: DataConfig, *, required: tuple[str, ...] = ("train", "valid"), progress: bool = False,
    workers: int = 1,
) -> CorpusLines:
    """Check every task and split named by ``cfg`` as :func:`read_corpus` does (the same
    errors, before anything is written) and index them for reading in chunks.

    Reads each file once, in blocks; memory does not grow with the corpus. The files are
    checked over ``workers`` processes, the errors still reported in :func:`read_corpus`'s
    order. ``progress`` shows a bar over the bytes to read, on a terminal.

    Raises:
        DataError, ValueError: as :func:`read_corpus`.
    """
    tasks, plan = _sources(cfg, required)
    files = {(task, split): source.index_jobs(*tasks[task])
             for task, split, source in plan if not isinstance(source, DataError)}
    sizes = {path: path.stat().st_size for jobs in files.values() for path, _ in jobs}
    bar = _bytes_bar(sum(sizes[path] for jobs in files.values() for path, _ in jobs), progress)
    indexes = ordered_map(_index_file, [job for jobs in files.values() for job in jobs], workers)
    lines: dict[str, dict[str, PairLines]] = {split: {} for split in SPLITS}
    try:
        for task, split, source in plan:  # in read_corpus's order: the first error is the same
            if isinstance(source, DataError):
                raise source
            found = []
            for path, _ in files[task, split]:
                found.append(next(indexes))
                if bar is not None:
                    bar.set_description(f"check {task} {split}", refresh=False)
                    bar.update(sizes[path])
            lines[split][task] = source.assemble(*tasks[task], found)
    finally:
        indexes.close()
        if bar is not None:
            bar.close()
    return CorpusLines(list(tasks), tasks, lines)


def _index_file(job: tuple[Path, bool]) -> LineIndex:
    return index_lines(*job)


def _bytes_bar(total: int, enabled: bool) -> Any:
    """A tqdm bar over ``total`` bytes (shown only on a terminal), or None."""
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="B", unit_scale=True, dynamic_ncols=True, mininterval=1.0,
                desc="check", disable=None, leave=False)
