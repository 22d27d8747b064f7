"""The ``decode`` config section: how translations are produced for validation BLEU and test."""

from __future__ import annotations

import math
from dataclasses import dataclass

from catsmt.config_fields import option


@dataclass
class DecodeConfig:
    beam: int = option(5, "beam size (1 = greedy); the paper uses 5")
    lenpen: float = option(1.0, "length penalty alpha: scores are divided by length**alpha; the paper uses 1.0")
    max_len_a: float = option(1.5, "maximum output length is max_len_a * source_length + max_len_b")
    max_len_b: int = option(10, "see max_len_a")
    batch_tokens: int = option(4096, "source tokens per decoding batch (length-sorted)")

    def validate(self) -> None:
        if self.beam < 1:
            raise ValueError(f"beam must be >= 1, got {self.beam}")
        if self.batch_tokens < 1:
            raise ValueError(f"batch_tokens must be >= 1, got {self.batch_tokens}")
        if not (math.isfinite(self.max_len_a) and self.max_len_a >= 0) or self.max_len_b < 0:
            raise ValueError(
                f"max_len_a and max_len_b must be >= 0 (and max_len_a finite), "
                f"got {self.max_len_a} and {self.max_len_b}"
            )
        if self.max_len_a == 0 and self.max_len_b == 0:
            raise ValueError("max_len_a and max_len_b are both 0: every translation would be empty")
        if not math.isfinite(self.lenpen):
            raise ValueError(f"lenpen must be a finite number, got {self.lenpen}")
