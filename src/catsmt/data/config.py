"""The ``data`` config section: which corpus, how it is tokenized, and how batches are made."""

from __future__ import annotations

from dataclasses import dataclass

from catsmt.config_fields import option
from catsmt.data.layouts import LAYOUTS

FORMATS = tuple(LAYOUTS)
"""The ``format`` choices: the layouts of :data:`catsmt.data.layouts.LAYOUTS`."""
_LAYOUT_NAMES = [f"{x.name} ({x.pattern})" for x in LAYOUTS.values()]
DIRECTIONS = ("o2m", "m2o", "pairs")
VOCAB_MODELS = ("unigram", "bpe")


@dataclass
class DataConfig:
    dir: str = option("data/synthetic", "corpus directory (as written by `catsmt data get`, or a user's own)")
    format: str = option(FORMATS[0], "layout of `dir`: " + ", ".join(_LAYOUT_NAMES[:-1]) + " or " + _LAYOUT_NAMES[-1])
    langs: list[str] = option([], "the non-pivot languages to use; empty = every language found in `dir`")
    direction: str = option("o2m", "o2m: pivot -> each language; m2o: each language -> pivot; pairs: the explicit `pairs`")
    pivot: str = option("eng", "the shared language of o2m / m2o")
    pairs: list[str] = option([], "explicit src-tgt pairs when direction=pairs, e.g. [deu-fra, fra-deu]")
    low_resource: list[str] = option([], "languages reported in the 'low' group; empty = the groups in `dir`/stats.json (written by `catsmt data get`), else those below `low_threshold` training pairs")
    low_threshold: int = option(10000, "training pairs under which a language counts as low-resource when `low_resource` is empty")
    vocab_size: int = option(8000, "SentencePiece vocabulary size (shared by all languages)")
    vocab_model: str = option("unigram", "SentencePiece model type: unigram or bpe")
    vocab_sample: int = option(200000, "sentences sampled (over all languages and both sides) to train SentencePiece")
    vocab_temperature: float = option(5.0, "temperature of the per-language sample that trains SentencePiece")
    source_tag: bool = option(True, "prepend the target-language tag <2xx> to every source sentence")
    max_tokens: int = option(4096, "token budget of one batch (padded source or target tokens, whichever is larger)")
    langs_per_batch: int = option(4, "K: language slots per batch, each drawn from the sampling distribution")
    min_part_tokens: int = option(2048, "cut a language's share of a batch into length-sorted parts of at least this many tokens, each padded on its own, where that saves padding (0 = never)")
    pack: bool = option(True, "pack several sentence pairs into each row (segment-masked attention, positions restarting per pair) instead of padding each pair to its slot's longest; `max_tokens` then counts the pairs' tokens, without padding")
    prefetch: bool = option(True, "draw the next training batch in a background thread while the current step runs (the same batches and checkpoints as without)")
    pack_len: int = option(128, "tokens per row and side that packing aims at; rows grow to fit a longer pair")
    max_len: int = option(128, "training pairs with a side longer than this many subwords are skipped")
    workers: int = option(0, "processes that binarize the corpus (0 = every core); the cache is the same for any number")
    cache_dir: str = option("", "where the vocabulary and binarized data are cached; empty = `dir`/.catsmt-cache")

    def validate(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}, got '{self.format}'")
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}, got '{self.direction}'")
        if self.direction == "pairs" and not self.pairs:
            raise ValueError("direction=pairs needs a non-empty `pairs` list")
        for name in ("vocab_size", "max_tokens", "langs_per_batch", "max_len", "vocab_sample", "pack_len"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("min_part_tokens", "low_threshold", "workers"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.vocab_model not in VOCAB_MODELS:
            raise ValueError(f"vocab_model must be one of {', '.join(VOCAB_MODELS)}, got '{self.vocab_model}'")
        if not self.vocab_temperature > 0:
            raise ValueError(f"vocab_temperature must be > 0 (inf = uniform), got {self.vocab_temperature}")
