"""Corpus BLEU and chrF per language, and the per-split summary that the tables read.

Every number comes from `sacrebleu` with its default settings (BLEU: 13a tokenizer,
exponential smoothing, mixed case; chrF: chrF2, character order 6), and the summary
carries sacrebleu's signature strings so a score can be reproduced.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TypedDict

from sacrebleu.metrics import BLEU, CHRF
from sacrebleu.metrics.base import Metric

#: The metrics we report, by the name used in JSON keys and on the command line.
METRICS: dict[str, Callable[[], Metric]] = {
    "bleu": BLEU,
    "chrf": CHRF,
}

#: Resource groups in the order the tables show them.
GROUPS: tuple[str, ...] = ("low", "mid", "high")


class Signatures(TypedDict):
    """sacrebleu signature strings, one per metric."""

    bleu: str
    chrf: str


class MetricScores(TypedDict):
    """One value per metric."""

    bleu: float
    chrf: float


class LanguageResult(TypedDict):
    """What :func:`score_language` returns."""

    bleu: float
    chrf: float
    n: int
    signature: Signatures


class LanguageScores(TypedDict):
    """One language's entry in :class:`SplitScores`."""

    bleu: float
    chrf: float
    n: int
    group: str


class SplitScores(TypedDict):
    """What :func:`score_languages` returns (and ``RUN/eval/<split>.json`` holds)."""

    split: str
    beam: int
    signature: Signatures
    langs: dict[str, LanguageScores]
    average: dict[str, MetricScores]


def check_pair(lang: str | None, hyps: Sequence[str], refs: Sequence[str]) -> None:
    """Check that ``hyps`` and ``refs`` are non-empty, equally long sequences of strings.

    Raises:
        ValueError: naming ``lang`` (when given) and what is wrong.
    """
    where = f"language '{lang}': " if lang is not None else ""
    if isinstance(hyps, str) or isinstance(refs, str):
        raise ValueError(f"{where}hypotheses and references must be lists of lines, not a str")
    if len(hyps) != len(refs):
        raise ValueError(f"{where}{len(hyps)} hypotheses but {len(refs)} references")
    if not refs:
        raise ValueError(f"{where}no sentences to score")
    for name, lines in (("hypothesis", hyps), ("reference", refs)):
        for i, line in enumerate(lines):
            if not isinstance(line, str):
                raise ValueError(f"{where}{name} {i} is a {type(line).__name__}, not a str")


def score_language(hyps: Sequence[str], refs: Sequence[str]) -> LanguageResult:
    """Corpus BLEU and chrF of detokenized ``hyps`` against one reference each.

    Args:
        hyps: system outputs, one per line.
        refs: references, aligned with ``hyps``.

    Returns:
        ``{"bleu", "chrf", "n", "signature": {"bleu", "chrf"}}``; the same numbers as
        ``sacrebleu.corpus_bleu(hyps, [refs]).score`` and ``corpus_chrf``.

    Raises:
        ValueError: if the lengths differ or there is nothing to score.
    """
    check_pair(None, hyps, refs)
    bleu, chrf = METRICS["bleu"](), METRICS["chrf"]()
    return {
        "bleu": float(bleu.corpus_score(list(hyps), [list(refs)]).score),
        "chrf": float(chrf.corpus_score(list(hyps), [list(refs)]).score),
        "n": len(refs),
        # the signature records nrefs only after a corpus_score call
        "signature": {"bleu": bleu.get_signature().format(), "chrf": chrf.get_signature().format()},
    }


def check_same_languages(
    defining_name: str, defining: Mapping[str, object], **named: Mapping[str, object]
) -> list[str]:
    """Check that every mapping in ``named`` has exactly the languages of ``defining``.

    Returns:
        The languages in the order of ``defining``.

    Raises:
        ValueError: naming the first language that is missing or extra, and where.
    """
    for what, mapping in named.items():
        for lang in defining:
            if lang not in mapping:
                raise ValueError(f"language '{lang}' is missing from {what}")
        for lang in mapping:
            if lang not in defining:
                raise ValueError(
                    f"language '{lang}' in {what} is not in {defining_name}; "
                    f"known languages: {', '.join(defining)}"
                )
    return list(defining)


def check_languages(groups: Mapping[str, str], **named: Mapping[str, object]) -> list[str]:
    """The languages of ``groups`` after checking the groups and the named mappings.

    Args:
        groups: language -> ``"low"``, ``"mid"`` or ``"high"``.
        named: mappings keyed by language (e.g. ``hyps=..., refs=...``).

    Returns:
        The languages in the order of ``groups``.

    Raises:
        ValueError: naming a language that is missing somewhere, or has a bad group.
    """
    for lang, group in groups.items():
        if group not in GROUPS:
            raise ValueError(
                f"language '{lang}' is in group '{group}'; valid groups: {', '.join(GROUPS)}"
            )
    return check_same_languages("groups", groups, **named)


def group_averages(values: Mapping[str, float], groups: Mapping[str, str]) -> dict[str, float]:
    """Unweighted means of per-language ``values``: ``"all"`` and one per non-empty group.

    A group with no languages has no entry (rather than a NaN).
    """
    out = {"all": sum(values.values()) / len(values)} if values else {}
    for group in GROUPS:
        members = [values[lang] for lang in values if groups[lang] == group]
        if members:
            out[group] = sum(members) / len(members)
    return out


def score_languages(
    hyps: Mapping[str, Sequence[str]],
    refs: Mapping[str, Sequence[str]],
    groups: Mapping[str, str],
    split: str,
    beam: int,
) -> SplitScores:
    """Score every language of a split and average over all, low- and high-resource ones.

    Args:
        hyps: language -> system outputs.
        refs: language -> references, aligned with ``hyps[lang]``.
        groups: language -> ``"low"`` / ``"mid"`` / ``"high"``; defines the languages.
        split: split name recorded in the result (``"valid"``, ``"test"``).
        beam: beam size recorded in the result.

    Returns:
        ``{"split", "beam", "signature", "langs": {xx: {"bleu", "chrf", "n", "group"}},
        "average": {"all": {"bleu", "chrf"}, "low": ..., "high": ...}}``. Averages are
        unweighted means over languages; an empty group has no entry.

    Raises:
        ValueError: naming the language that is missing, mis-grouped or whose hypotheses
        and references differ in length.
    """
    langs = check_languages(groups, hyps=hyps, refs=refs)
    if not langs:
        raise ValueError("no languages to score (groups is empty)")
    for lang in langs:
        check_pair(lang, hyps[lang], refs[lang])

    per_lang: dict[str, LanguageScores] = {}
    signature: Signatures | None = None
    for lang in langs:
        result = score_language(hyps[lang], refs[lang])
        per_lang[lang] = {
            "bleu": result["bleu"],
            "chrf": result["chrf"],
            "n": result["n"],
            "group": groups[lang],
        }
        signature = result["signature"]  # the same for every language
    assert signature is not None

    bleu = group_averages({lang: s["bleu"] for lang, s in per_lang.items()}, groups)
    chrf = group_averages({lang: s["chrf"] for lang, s in per_lang.items()}, groups)
    average: dict[str, MetricScores] = {key: {"bleu": bleu[key], "chrf": chrf[key]} for key in bleu}
    return {
        "split": split,
        "beam": beam,
        "signature": signature,
        "langs": per_lang,
        "average": average,
    }
