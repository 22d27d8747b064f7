"""The ``model`` config section and named presets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from catsmt.config_fields import option

#: Named architectures. A preset fills the fields; keys given next to it override them.
PRESETS: dict[str, dict[str, Any]] = {
    # Trains in minutes on 2 CPU cores.
    "tiny": dict(layers=2, dim=128, ffn_dim=256, heads=4, dropout=0.1),
    # A little bigger for CPU demos that should reach usable BLEU.
    "small": dict(layers=3, dim=256, ffn_dim=512, heads=4, dropout=0.1),
    # The paper's TED model: 6 layers, 512 hidden, 1024 FFN, 4 heads, dropout 0.3.
    "ted": dict(layers=6, dim=512, ffn_dim=1024, heads=4, dropout=0.3),
    # Transformer-base (Vaswani et al., 2017), the paper's WMT / OPUS-100 model.
    "base": dict(layers=6, dim=512, ffn_dim=2048, heads=8, dropout=0.1),
}


@dataclass
class ModelConfig:
    preset: str = option("tiny", f"architecture preset: {', '.join(PRESETS)}; fields given next to it override it")
    layers: int = option(2, "encoder layers (and decoder layers unless decoder_layers is set)")
    decoder_layers: int = option(0, "decoder layers; 0 = same as `layers`")
    dim: int = option(128, "model (embedding) dimension")
    ffn_dim: int = option(256, "feed-forward inner dimension")
    heads: int = option(4, "attention heads")
    dropout: float = option(0.1, "dropout on residual branches and embeddings")
    attention_dropout: float = option(0.0, "dropout on attention probabilities")
    activation_dropout: float = option(0.0, "dropout after the feed-forward activation")
    norm: str = option("pre", "pre- or post-norm residual blocks: pre | post")
    layernorm_affine: bool = option(True, "LayerNorm with gain and bias; false = the paper's '-LN' ablation")
    share_embeddings: bool = option(True, "one embedding matrix for source and target (shared vocabulary)")
    tie_output: bool = option(True, "output projection tied to the target embedding")
    attention: str = option("sdpa", "sdpa (fused, fast) or math (plain ops; supports second derivatives)")
    max_positions: int = option(1024, "longest sequence the sinusoidal positions cover")

    def validate(self) -> None:
        if self.preset not in PRESETS:
            raise ValueError(f"unknown preset '{self.preset}'; valid presets: {', '.join(PRESETS)}")
        for name in ("layers", "dim", "ffn_dim", "heads", "max_positions"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.decoder_layers < 0:
            raise ValueError(f"decoder_layers must be >= 0 (0 = same as layers), got {self.decoder_layers}")
        for name in ("dropout", "attention_dropout", "activation_dropout"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if self.dim % self.heads:
            raise ValueError(f"dim ({self.dim}) must be divisible by heads ({self.heads})")
        if self.norm not in ("pre", "post"):
            raise ValueError(f"norm must be pre or post, got '{self.norm}'")
        if self.attention not in ("sdpa", "math"):
            raise ValueError(f"attention must be sdpa or math, got '{self.attention}'")

    @property
    def n_decoder_layers(self) -> int:
        return self.decoder_layers or self.layers

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], section: str = "model") -> ModelConfig:
        """Build from a mapping: the preset's values first, then the explicit keys."""
        from catsmt.config_fields import ConfigError, from_dict

        data = dict(data)
        preset = str(data.get("preset", cls.preset))
        if preset not in PRESETS:
            raise ConfigError(f"{section}.preset: unknown preset '{preset}'; valid presets: {', '.join(PRESETS)}")
        merged = {**PRESETS[preset], **data, "preset": preset}
        return from_dict(cls, merged, section, use_hook=False)
