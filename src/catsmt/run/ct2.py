"""Export a catsmt Transformer to CTranslate2, built with CTranslate2's own model-spec API.

``catsmt export RUN OUT --format ct2`` writes::

    OUT/
      catsmt.json             as a safetensors model folder, with weights.format "ctranslate2"
      sentencepiece.model     the shared SentencePiece model
      model.bin               CTranslate2's weights
      config.json             CTranslate2's model config
      shared_vocabulary.json  the pieces, in id order (source and target share them)

The model maps one to one onto :class:`ctranslate2.specs.TransformerSpec`: pre- or
post-norm layers with ReLU feed-forward, embeddings scaled by ``sqrt(dim)``, catsmt's
sinusoidal table given as the position encodings (catsmt interleaves sin and cos, so the
table is passed rather than left to CTranslate2's default), the query/key/value projections
of self-attention fused into one matrix (cross-attention: the query, then keys and values
fused), the output projection (the tied target embedding unless ``tie_output=false``), and
LayerNorm epsilon 1e-5 (torch's). Decoding starts from the target-language tag, passed as a
one-token target prefix (``decoder_start_token`` is None), as catsmt's decoder starts.

CTranslate2 is optional: ``pip install catsmt[ct2]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from catsmt.model.config import ModelConfig
from catsmt.model.transformer import sinusoidal_positions
from catsmt.run.model_folder import (
    CTRANSLATE2,
    VOCAB_FILE,
    ModelFolderError,
    ModelInfo,
    write_folder,
)

#: torch's LayerNorm epsilon, which catsmt's layers use.
LAYER_NORM_EPSILON = 1e-5
#: CTranslate2 versions this converter was written against (its spec revision 7 of TransformerSpec).
TESTED_WITH = "4.8.5"


def import_ctranslate2() -> Any:
    """The ``ctranslate2`` module.

    Raises:
        ModelFolderError: it is not installed (the message says how to install it).
    """
    try:
        import ctranslate2
    except ImportError:
        raise ModelFolderError(
            "CTranslate2 is not installed; install the optional extra: pip install 'catsmt[ct2]'"
        ) from None
    return ctranslate2


def _array(t: Tensor) -> np.ndarray:
    return t.detach().to("cpu", torch.float32).contiguous().numpy()


def _norm(spec: Any, weights: Mapping[str, Tensor], name: str, dim: int) -> None:
    """Fill a LayerNormSpec from ``name.weight``/``name.bias`` (ones and zeros without them:
    ``layernorm_affine=false``)."""
    gamma = weights.get(f"{name}.weight")
    beta = weights.get(f"{name}.bias")
    spec.gamma = _array(gamma) if gamma is not None else np.ones(dim, dtype=np.float32)
    spec.beta = _array(beta) if beta is not None else np.zeros(dim, dtype=np.float32)


def _linear(spec: Any, weights: Mapping[str, Tensor], *names: str) -> None:
    """Fill a LinearSpec from one projection, or from several fused along the output rows."""
    spec.weight = np.concatenate([_array(weights[f"{n}.weight"]) for n in names])
    spec.bias = np.concatenate([_array(weights[f"{n}.bias"]) for n in names])


def _ffn(spec: Any, weights: Mapping[str, Tensor], prefix: str, dim: int) -> None:
    _norm(spec.layer_norm, weights, f"{prefix}.ffn_norm", dim)
    _linear(spec.linear_0, weights, f"{prefix}.ffn.fc1")
    _linear(spec.linear_1, weights, f"{prefix}.ffn.fc2")


def transformer_spec(cfg: ModelConfig, weights: Mapping[str, Tensor], pieces: list[str]) -> Any:
    """The :class:`ctranslate2.specs.TransformerSpec` of a catsmt model, validated.

    Args:
        cfg: the model config.
        weights: its ``state_dict``.
        pieces: the vocabulary's pieces in id order.

    Raises:
        ModelFolderError: CTranslate2 is missing, or the weights do not fill the spec.
    """
    ctranslate2 = import_ctranslate2()
    specs = ctranslate2.specs
    pre_norm = cfg.norm == "pre"
    encoder = specs.TransformerEncoderSpec(
        cfg.layers, cfg.heads, pre_norm=pre_norm, activation=specs.Activation.RELU
    )
    decoder = specs.TransformerDecoderSpec(
        cfg.n_decoder_layers, cfg.heads, pre_norm=pre_norm, activation=specs.Activation.RELU
    )
    positions = sinusoidal_positions(cfg.max_positions, cfg.dim).numpy()  # (P, D)
    dim = cfg.dim

    encoder.embeddings[0].weight = _array(weights["embed.weight"])
    encoder.position_encodings.encodings = positions
    if pre_norm:
        _norm(encoder.layer_norm, weights, "encoder_norm", dim)
    for i, layer in enumerate(encoder.layer):
        prefix = f"encoder_layers.{i}"
        attn = f"{prefix}.self_attn"
        _norm(layer.self_attention.layer_norm, weights, f"{prefix}.self_attn_norm", dim)
        _linear(layer.self_attention.linear[0], weights, f"{attn}.q_proj", f"{attn}.k_proj", f"{attn}.v_proj")
        _linear(layer.self_attention.linear[1], weights, f"{attn}.out_proj")
        _ffn(layer.ffn, weights, prefix, dim)

    decoder.embeddings.weight = _array(weights["tgt_embed.weight"])
    decoder.position_encodings.encodings = positions
    if pre_norm:
        _norm(decoder.layer_norm, weights, "decoder_norm", dim)
    output = weights["tgt_embed.weight"] if cfg.tie_output else weights["out_proj.weight"]
    decoder.projection.weight = _array(output)
    for i, layer in enumerate(decoder.layer):
        prefix = f"decoder_layers.{i}"
        attn, cross = f"{prefix}.self_attn", f"{prefix}.cross_attn"
        _norm(layer.self_attention.layer_norm, weights, f"{prefix}.self_attn_norm", dim)
        _linear(layer.self_attention.linear[0], weights, f"{attn}.q_proj", f"{attn}.k_proj", f"{attn}.v_proj")
        _linear(layer.self_attention.linear[1], weights, f"{attn}.out_proj")
        _norm(layer.attention.layer_norm, weights, f"{prefix}.cross_attn_norm", dim)
        _linear(layer.attention.linear[0], weights, f"{cross}.q_proj")
        _linear(layer.attention.linear[1], weights, f"{cross}.k_proj", f"{cross}.v_proj")
        _linear(layer.attention.linear[2], weights, f"{cross}.out_proj")
        _ffn(layer.ffn, weights, prefix, dim)

    spec = specs.TransformerSpec(encoder, decoder)
    spec.config.decoder_start_token = None  # the target-language tag comes as the prefix
    spec.config.layer_norm_epsilon = LAYER_NORM_EPSILON
    spec.register_source_vocabulary(pieces)
    spec.register_target_vocabulary(pieces)
    try:
        spec.validate()
    except ValueError as e:
        raise ModelFolderError(f"the weights do not fill CTranslate2's TransformerSpec: {e}") from None
    return spec


def save_ct2_folder(
    out: str | Path, weights: Mapping[str, Tensor], info: ModelInfo, quantization: str | None = None
) -> Path:
    """Write a CTranslate2 model folder (see the module docstring).

    Args:
        out: the folder to create (absent or empty).
        weights: the model's ``state_dict``.
        info: what catsmt.json records.
        quantization: CTranslate2's weight type (``int8``, ``float16``, ...); None keeps float32.

    Raises:
        ModelFolderError: CTranslate2 is missing, or ``out`` exists and is not empty.
        OSError: the disk is full or the folder not writable; nothing is left behind.
    """
    ctranslate2 = import_ctranslate2()
    import sentencepiece as spm

    def write(folder: Path) -> dict[str, Any]:
        sp = spm.SentencePieceProcessor(model_file=str(folder / VOCAB_FILE))
        pieces = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
        spec = transformer_spec(info.model, weights, pieces)
        try:
            spec.optimize(quantization=quantization)
        except ValueError as e:
            raise ModelFolderError(f"--quantization {quantization}: {e}") from None
        spec.save(str(folder))
        return {
            "format": CTRANSLATE2,
            "file": "model.bin",
            "ctranslate2_version": ctranslate2.__version__,
            "quantization": quantization,
        }

    return write_folder(out, info, write)
