"""The Transformer encoder-decoder, its config and its training loss."""

from catsmt.model.config import PRESETS, ModelConfig
from catsmt.model.loss import label_smoothed_loss, per_sentence_nll
from catsmt.model.transformer import DecoderCache, EncoderOut, Transformer, build_model

__all__ = [
    "PRESETS",
    "DecoderCache",
    "EncoderOut",
    "ModelConfig",
    "Transformer",
    "build_model",
    "label_smoothed_loss",
    "per_sentence_nll",
]
