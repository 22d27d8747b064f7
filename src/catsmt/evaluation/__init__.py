"""Evaluation: BLEU/chrF per language, paired bootstrap significance, Table-2 layout.

Model-independent: everything here works on lists of detokenized strings.
"""

from __future__ import annotations

from catsmt.evaluation.scores import (
    GROUPS,
    METRICS,
    LanguageResult,
    LanguageScores,
    MetricScores,
    Signatures,
    SplitScores,
    group_averages,
    score_language,
    score_languages,
)
from catsmt.evaluation.significance import (
    PairedResult,
    bootstrap_p_value,
    paired_bootstrap,
    sacrebleu_paired_bs,
)
from catsmt.evaluation.tables import Cell, Column, Table, build_table, strongest_baseline

__all__ = [
    "GROUPS",
    "METRICS",
    "Cell",
    "Column",
    "LanguageResult",
    "LanguageScores",
    "MetricScores",
    "PairedResult",
    "Signatures",
    "SplitScores",
    "Table",
    "bootstrap_p_value",
    "build_table",
    "group_averages",
    "paired_bootstrap",
    "sacrebleu_paired_bs",
    "score_language",
    "score_languages",
    "strongest_baseline",
]
