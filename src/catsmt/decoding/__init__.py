"""Greedy and beam search, and batched translation of token-id sentences."""

from catsmt.decoding.config import DecodeConfig
from catsmt.decoding.search import beam_search, greedy_search
from catsmt.decoding.translate import fit_sources, make_batches, translate_ids

__all__ = ["DecodeConfig", "beam_search", "fit_sources", "greedy_search", "make_batches", "translate_ids"]
