"""What the suite measures and at which size: :class:`BenchConfig`, and the run it stands for.

Fields that mean what a training run's fields mean (device, precision, threads, the fused
loss, the batch's token budget and K, the model preset) take their default and help text
from that section's dataclass (:func:`same_as`), and :meth:`BenchConfig.validate` lets those
sections check them: the defaults and the checks live in one place. :meth:`BenchConfig.run_config`
is the training config whose steps the suite times.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from catsmt.config import Config
from catsmt.config_fields import help_text, option
from catsmt.data.config import DataConfig
from catsmt.model import PRESETS, ModelConfig
from catsmt.training.config import TrainConfig
from catsmt.weighting import WEIGHTINGS
from catsmt.weighting.config import WeightingConfig

PRECISIONS = ("fp32", "bf16", "fp16")

TRAIN_LR = 1e-4
"""Learning rate of the measured steps: small, so that no step turns non-finite."""

FIRST_TAG = 4  # language tags <2xx> are FIRST_TAG .. FIRST_TAG + N - 1; content ids follow

#: The method of the ``plain`` row, every ratio's denominator: a run's default method.
PLAIN = WeightingConfig().method


def same_as(section: type, name: str, help: str | None = None) -> Any:  # noqa: A002 - mirrors option()
    """A field that means what ``section``'s field ``name`` means: its default and (unless
    ``help`` is given) its help text, read from ``section``."""
    f = {f.name: f for f in dataclasses.fields(section)}[name]
    return option(f.default, help_text(f) if help is None else help)


@dataclass
class BenchConfig:
    """What to measure and at which size."""

    preset: str = same_as(ModelConfig, "preset", f"model preset: {', '.join(PRESETS)}")
    vocab: int = option(8000, "vocabulary size (the output layer's width)")
    max_tokens: int = same_as(DataConfig, "max_tokens", "tokens per training batch, all K sub-batches together (padded, or the pairs' own when packing), as data.max_tokens")
    loss_chunk: int = same_as(TrainConfig, "loss_chunk")
    pack_len: int = option(0, "pack pairs several to a row of about this many tokens a side, as data.pack does in training (0 = pad each pair)")
    langs_per_batch: int = same_as(DataConfig, "langs_per_batch", "K: language sub-batches per batch (distinct languages), as data.langs_per_batch")
    langs: int = option(0, "N: languages of the run (rows of the task-gradient matrix, sampler languages); 0 = K")
    methods: str = option("all", f"comma-separated weighting methods whose training steps are timed, or all; the plain step ({PLAIN}) is always timed")
    repeats: int = option(10, "timed rounds of the interleaved training, data and curvature cases")
    warmup: int = option(2, "untimed rounds before them")
    steps: int = option(1, "calls of each case per round")
    device: str = same_as(TrainConfig, "device")
    precision: str = same_as(TrainConfig, "precision")
    threads: int = same_as(TrainConfig, "threads")
    decode_sentences: int = option(200, "sentences to translate in each decoding measurement; 0 = skip decoding")
    decode_repeats: int = option(3, "timed rounds of decoding (after one untimed round)")
    beam: int = option(5, "beam size of the beam-search row")
    seed: int = option(0, "seed of the synthetic data, the models and the samplers")

    def validate(self) -> None:
        """Raises ValueError naming the first bad field."""
        if self.preset not in PRESETS:
            raise ValueError(f"unknown preset '{self.preset}'; valid presets: {', '.join(PRESETS)}")
        self.run_config().train.validate()  # device is resolved later, with the device
        for name in ("repeats", "steps", "langs_per_batch", "beam", "max_tokens"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("warmup", "decode_sentences", "decode_repeats", "langs", "pack_len"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        self.method_names()
        if 0 < self.langs < self.langs_per_batch:
            raise ValueError(f"langs (N={self.langs}) must be >= langs_per_batch (K={self.langs_per_batch})")
        first_content = FIRST_TAG + self.n_langs
        if self.vocab < first_content + 16:
            raise ValueError(f"vocab must be at least {first_content + 16} for {self.n_langs} languages, got {self.vocab}")
        if self.slot_tokens < 32:
            raise ValueError(
                f"max_tokens / langs_per_batch = {self.slot_tokens} padded tokens per sub-batch is too few; "
                "raise max_tokens to at least 32 * langs_per_batch"
            )

    @property
    def n_langs(self) -> int:
        return self.langs or self.langs_per_batch

    @property
    def slot_tokens(self) -> int:
        return self.max_tokens // self.langs_per_batch

    def method_names(self) -> list[str]:
        """The registered methods to time, in the registry's order, :data:`PLAIN` first.

        Raises:
            ValueError: an unknown name, listing the valid ones.
        """
        asked = [m.strip() for m in self.methods.split(",") if m.strip()]
        if asked == ["all"]:
            asked = list(WEIGHTINGS)
        unknown = [m for m in asked if m not in WEIGHTINGS]
        if unknown or not asked:
            raise ValueError(
                f"methods: unknown method(s) {', '.join(unknown) or '(none given)'}; "
                f"valid: all, or some of {', '.join(WEIGHTINGS)}"
            )
        return [PLAIN, *(m for m in WEIGHTINGS if m in asked and m != PLAIN)]

    def run_config(self, method: str = PLAIN) -> Config:
        """The training config whose steps are timed: this batch size and precision, the
        learning rate :data:`TRAIN_LR`, ``method`` with its default hyperparameters, and
        every other field at its default (label smoothing, no clipping, ``train.max_steps``
        as the planned length that budget-allocating methods are told)."""
        data = DataConfig(max_tokens=self.max_tokens, langs_per_batch=self.langs_per_batch, pack=self.pack_len > 0)
        if self.pack_len > 0:
            data.pack_len = self.pack_len
        train = TrainConfig(device=self.device, precision=self.precision, threads=self.threads,
                            loss_chunk=self.loss_chunk, lr=TRAIN_LR)
        return Config(data=data, train=train, weighting=WeightingConfig(method=method))
