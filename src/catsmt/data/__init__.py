"""Corpora, the shared vocabulary, the binarized cache and the multilingual batch sampler.

``prepare_data(cfg)`` is the entry point; see docs/design.md (Data) for the contract.
"""

from __future__ import annotations

from catsmt.data.batch import Batch, LangBatch
from catsmt.data.corpus import Corpus, read_corpus
from catsmt.data.dataset import MultilingualData, prepare_data
from catsmt.data.errors import DataError
from catsmt.data.sampler import BatchSampler
from catsmt.data.vocab import Vocab

__all__ = [
    "Batch",
    "BatchSampler",
    "Corpus",
    "DataError",
    "LangBatch",
    "MultilingualData",
    "Vocab",
    "prepare_data",
    "read_corpus",
]
