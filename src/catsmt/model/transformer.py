"""A Transformer encoder-decoder for translation (Vaswani et al., 2017), in one file.

Read top to bottom: attention, feed-forward, the encoder and decoder layers, then the model.
The architecture follows fairseq's ``transformer`` so that the paper's numbers are
comparable: sinusoidal positions, embeddings scaled by ``sqrt(dim)``, one embedding matrix
for source and target (one joint vocabulary) tied to the output projection, pre- or
post-norm residual blocks, a final LayerNorm after a pre-norm stack, ReLU feed-forward,
and fairseq's initialisation.

Shapes: ``B`` batch, ``S`` source length, ``T`` target length, ``D`` model dimension,
``H`` heads, ``Dh = D / H``, ``V`` vocabulary.

Attention runs through :func:`torch.nn.functional.scaled_dot_product_attention` (``"sdpa"``,
fused and fast) or through plain matmul/softmax (``"math"``), which is twice differentiable
and so supports Hessian-vector products. Switch with :meth:`Transformer.set_attention` or
``with model.math_attention(): ...``.

Incremental decoding keeps a :class:`DecoderCache`: each decoder layer's self-attention
keys/values grow by the new positions on every call; the cross-attention keys/values are
computed once per source sentence by :meth:`Transformer.new_cache`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast, overload

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from catsmt.model.config import ModelConfig
from catsmt.model.fused_loss import DEFAULT_CHUNK, fused_label_smoothed_loss

ATTENTION_MODES = ("sdpa", "math")


# ----------------------------------------------------------------------------------------
# Encoder output and decoder cache


@dataclass
class EncoderOut:
    """What the decoder needs from the encoder.

    Attributes:
        memory: ``(B, S, D)`` encoder states.
        src_pad: ``(B, S)`` bool, True where the source is padding.
        src_seg: ``(B, S)`` segment ids of packed rows (see :func:`segment_positions`), or
            None for one sentence per row.
    """

    memory: Tensor
    src_pad: Tensor
    src_seg: Tensor | None = None

    def select(self, index: Tensor) -> EncoderOut:
        """Rows ``index`` (a ``(B',)`` long tensor) of the batch, e.g. to expand or reorder beams."""
        seg = None if self.src_seg is None else self.src_seg.index_select(0, index)
        return EncoderOut(self.memory.index_select(0, index), self.src_pad.index_select(0, index), seg)


@dataclass
class LayerCache:
    """Keys and values of one decoder layer, each ``(B, H, *, Dh)``."""

    cross_k: Tensor  # (B, H, S, Dh), computed once per source
    cross_v: Tensor  # (B, H, S, Dh)
    self_k: Tensor | None = None  # (B, H, t, Dh), grows with every decoded position
    self_v: Tensor | None = None  # (B, H, t, Dh)

    def select(self, index: Tensor, same_sources: bool) -> LayerCache:
        return LayerCache(
            self.cross_k if same_sources else self.cross_k.index_select(0, index),
            self.cross_v if same_sources else self.cross_v.index_select(0, index),
            None if self.self_k is None else self.self_k.index_select(0, index),
            None if self.self_v is None else self.self_v.index_select(0, index),
        )


@dataclass
class DecoderCache:
    """State of incremental decoding: one :class:`LayerCache` per decoder layer.

    Attributes:
        layers: per-layer keys and values.
        length: target positions decoded so far (the position of the next input token).
    """

    layers: list[LayerCache]
    length: int = 0

    def select(self, index: Tensor, same_sources: bool = False) -> DecoderCache:
        """Rows ``index (B',)`` of the batch; returns a new cache.

        ``same_sources=True`` promises that row ``index[i]`` has the same source as row ``i``
        (beams reordered within their sentence), so the cross-attention keys/values are
        kept as they are instead of being copied.
        """
        layers = [layer.select(index, same_sources) for layer in self.layers]
        return DecoderCache(layers, self.length)


# ----------------------------------------------------------------------------------------
# Building blocks


def layer_norm(dim: int, affine: bool) -> nn.LayerNorm:
    """A LayerNorm; ``affine=False`` drops gain and bias (the paper's '-LN' ablation)."""
    return nn.LayerNorm(dim, elementwise_affine=affine)


def sinusoidal_positions(n_positions: int, dim: int) -> Tensor:
    """``(n_positions, dim)`` sinusoids: sin on even, cos on odd channels (Vaswani et al., 3.5)."""
    position = torch.arange(n_positions, dtype=torch.float32).unsqueeze(1)  # (P, 1)
    inv_freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(n_positions, dim)
    table[:, 0::2] = torch.sin(position * inv_freq)  # (P, D/2)
    table[:, 1::2] = torch.cos(position * inv_freq)
    return table


def segment_positions(seg: Tensor) -> Tensor:
    """Position of each token within its sentence in packed rows: ``(B, L)`` -> ``(B, L)``.

    A packed row holds several sentences one after another; ``seg`` numbers them 1, 2, ... along
    the row and is 0 on the padding at its end. Each sentence's positions start again at 0, as
    if it had a row of its own.
    """
    idx = torch.arange(seg.size(1), device=seg.device).expand_as(seg)  # (B, L)
    starts = torch.ones_like(seg, dtype=torch.bool)  # (B, L): True where a segment begins
    starts[:, 1:] = seg[:, 1:] != seg[:, :-1]
    first = torch.where(starts, idx, torch.zeros_like(idx)).cummax(dim=1).values  # (B, L)
    return idx - first


def segment_mask(q_seg: Tensor, k_seg: Tensor) -> Tensor:
    """``(B, 1, T, S)`` bool: query ``i`` may see key ``j`` when both are of the same sentence.

    Padding queries (segment 0) see every key, so that no row of the attention is empty; their
    outputs are never read by a real position and never reach the loss.
    """
    same = q_seg[:, :, None] == k_seg[:, None, :]  # (B, T, S)
    return (same | (q_seg == 0)[:, :, None])[:, None]


class MultiHeadAttention(nn.Module):
    """Multi-head attention with separate query/key/value projections (self or cross).

    The keys and values are passed in already projected and split into heads (see
    :meth:`keys_values`), so that a decoder can cache them.
    """

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.head_dim = dim // heads
        self.dropout = dropout
        self.use_sdpa = True  # set by Transformer.set_attention
        self.q_proj = nn.Linear(dim, dim)
        self.k_proj = nn.Linear(dim, dim)
        self.v_proj = nn.Linear(dim, dim)
        self.out_proj = nn.Linear(dim, dim)

    def split_heads(self, x: Tensor) -> Tensor:
        B, T, _ = x.shape
        return x.view(B, T, self.heads, self.head_dim).transpose(1, 2)  # (B, H, T, Dh)

    def keys_values(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Project ``x (B, S, D)`` to keys and values, each ``(B, H, S, Dh)``."""
        return self.split_heads(self.k_proj(x)), self.split_heads(self.v_proj(x))

    def forward(self, x: Tensor, k: Tensor, v: Tensor, keep: Tensor | None, causal: bool) -> Tensor:
        """Attend from queries ``x (B, T, D)`` to ``k, v (B, H, S, Dh)``; returns ``(B, T, D)``.

        Args:
            keep: bool mask broadcastable to ``(B, H, T, S)``, True where a key may be seen
                (the key padding mask), or None.
            causal: query ``i`` sees only keys ``j <= i + S - T`` (the last ``T`` of the
                ``S`` positions are the queries; this covers cached decoding).
        """
        B, T, D = x.shape
        S = k.size(2)
        q = self.split_heads(self.q_proj(x))  # (B, H, T, Dh)
        dropout = self.dropout if self.training else 0.0
        # The fused kernels' own causal mask is aligned to the top left, right only for T == S.
        fused_causal = causal and T == S and keep is None and self.use_sdpa
        if causal and T > 1 and not fused_causal:
            past = torch.ones(T, S, dtype=torch.bool, device=x.device).tril(S - T)  # (T, S)
            keep = past if keep is None else keep & past
        if self.use_sdpa:
            y = F.scaled_dot_product_attention(
                q, k, v, attn_mask=keep, dropout_p=dropout, is_causal=fused_causal
            )  # (B, H, T, Dh)
        else:
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(self.head_dim))  # (B, H, T, S)
            if keep is not None:
                att = att.masked_fill(~keep, float("-inf"))
            att = F.dropout(att.softmax(dim=-1), dropout, self.training)
            y = att @ v  # (B, H, T, Dh)
        y = y.transpose(1, 2).reshape(B, T, D)  # (B, T, D)
        return self.out_proj(y)


class FeedForward(nn.Module):
    """``fc2(dropout(relu(fc1(x))))``."""

    def __init__(self, dim: int, ffn_dim: int, activation_dropout: float) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, ffn_dim)
        self.fc2 = nn.Linear(ffn_dim, dim)
        self.dropout = nn.Dropout(activation_dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.dropout(F.relu(self.fc1(x))))


class EncoderLayer(nn.Module):
    """Self-attention and feed-forward, each in a residual block (pre- or post-norm)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.pre_norm = cfg.norm == "pre"
        self.self_attn = MultiHeadAttention(cfg.dim, cfg.heads, cfg.attention_dropout)
        self.self_attn_norm = layer_norm(cfg.dim, cfg.layernorm_affine)
        self.ffn = FeedForward(cfg.dim, cfg.ffn_dim, cfg.activation_dropout)
        self.ffn_norm = layer_norm(cfg.dim, cfg.layernorm_affine)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: Tensor, keep: Tensor) -> Tensor:
        """``x (B, S, D)``, ``keep (B, 1, 1, S)`` -> ``(B, S, D)``."""
        h = self.self_attn_norm(x) if self.pre_norm else x
        k, v = self.self_attn.keys_values(h)  # (B, H, S, Dh)
        x = x + self.dropout(self.self_attn(h, k, v, keep, causal=False))
        if not self.pre_norm:
            x = self.self_attn_norm(x)

        h = self.ffn_norm(x) if self.pre_norm else x
        x = x + self.dropout(self.ffn(h))
        if not self.pre_norm:
            x = self.ffn_norm(x)
        return x


class DecoderLayer(nn.Module):
    """Causal self-attention, cross-attention to the encoder, feed-forward."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.pre_norm = cfg.norm == "pre"
        self.self_attn = MultiHeadAttention(cfg.dim, cfg.heads, cfg.attention_dropout)
        self.self_attn_norm = layer_norm(cfg.dim, cfg.layernorm_affine)
        self.cross_attn = MultiHeadAttention(cfg.dim, cfg.heads, cfg.attention_dropout)
        self.cross_attn_norm = layer_norm(cfg.dim, cfg.layernorm_affine)
        self.ffn = FeedForward(cfg.dim, cfg.ffn_dim, cfg.activation_dropout)
        self.ffn_norm = layer_norm(cfg.dim, cfg.layernorm_affine)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(
        self,
        x: Tensor,
        enc: EncoderOut,
        keep: Tensor,
        cache: LayerCache | None,
        self_keep: Tensor | None = None,
    ) -> Tensor:
        """``x (B, T, D)`` (the newest ``T`` positions when ``cache`` is given) -> ``(B, T, D)``.

        ``keep`` (``(B, 1, 1, S)``, or ``(B, 1, T, S)`` for packed rows) is the source key mask;
        ``self_keep (B, 1, T, T)`` restricts self-attention to each packed sentence (the causal
        mask is applied on top). With a cache, the new keys/values are appended to ``cache`` in
        place and the cached cross-attention keys/values are used.
        """
        h = self.self_attn_norm(x) if self.pre_norm else x
        k, v = self.self_attn.keys_values(h)  # (B, H, T, Dh)
        if cache is not None:
            if cache.self_k is not None and cache.self_v is not None:
                k = torch.cat([cache.self_k, k], dim=2)  # (B, H, t + T, Dh)
                v = torch.cat([cache.self_v, v], dim=2)
            cache.self_k, cache.self_v = k, v
        # No target padding mask: targets are right-padded, so a real position never sees a pad.
        x = x + self.dropout(self.self_attn(h, k, v, self_keep, causal=True))
        if not self.pre_norm:
            x = self.self_attn_norm(x)

        h = self.cross_attn_norm(x) if self.pre_norm else x
        if cache is not None:
            k, v = cache.cross_k, cache.cross_v  # (B, H, S, Dh)
        else:
            k, v = self.cross_attn.keys_values(enc.memory)
        x = x + self.dropout(self.cross_attn(h, k, v, keep, causal=False))
        if not self.pre_norm:
            x = self.cross_attn_norm(x)

        h = self.ffn_norm(x) if self.pre_norm else x
        x = x + self.dropout(self.ffn(h))
        if not self.pre_norm:
            x = self.ffn_norm(x)
        return x


# ----------------------------------------------------------------------------------------
# The model


class Transformer(nn.Module):
    """Transformer encoder-decoder over one joint vocabulary.

    Args:
        cfg: the ``model`` config section (validated here).
        vocab_size: size of the joint source/target vocabulary.
        pad_id: padding id; its embedding row is zero and padded source positions are masked.

    Raises:
        ValueError: for an invalid config (odd ``dim``, ``dim`` not divisible by ``heads``, ...).
    """

    def __init__(self, cfg: ModelConfig, vocab_size: int, pad_id: int) -> None:
        super().__init__()
        cfg.validate()
        if cfg.dim % 2:
            raise ValueError(f"dim must be even for sinusoidal positions, got {cfg.dim}")
        if not 0 <= pad_id < vocab_size:
            raise ValueError(f"pad_id {pad_id} is outside the vocabulary of size {vocab_size}")
        self.cfg = cfg
        self.vocab_size = vocab_size
        self.pad_id = pad_id
        self.embed_scale = math.sqrt(cfg.dim)

        self.embed = nn.Embedding(vocab_size, cfg.dim, padding_idx=pad_id)
        self.tgt_embed = (
            self.embed
            if cfg.share_embeddings
            else nn.Embedding(vocab_size, cfg.dim, padding_idx=pad_id)
        )
        self.out_proj = None if cfg.tie_output else nn.Linear(cfg.dim, vocab_size, bias=False)
        self.positions: Tensor  # (max_positions, D), a buffer
        self.register_buffer(
            "positions", sinusoidal_positions(cfg.max_positions, cfg.dim), persistent=False
        )
        self.dropout = nn.Dropout(cfg.dropout)

        self.encoder_layers = nn.ModuleList([EncoderLayer(cfg) for _ in range(cfg.layers)])
        self.decoder_layers = nn.ModuleList(
            [DecoderLayer(cfg) for _ in range(cfg.n_decoder_layers)]
        )
        pre_norm = cfg.norm == "pre"
        self.encoder_norm = layer_norm(cfg.dim, cfg.layernorm_affine) if pre_norm else None
        self.decoder_norm = layer_norm(cfg.dim, cfg.layernorm_affine) if pre_norm else None

        self.reset_parameters()
        self.set_attention(cfg.attention)

    def reset_parameters(self) -> None:
        """fairseq's initialisation: Xavier-uniform projections (gain 1/sqrt 2 for q, k, v),
        zero biases, ``N(0, dim^-0.5)`` embeddings with a zero padding row."""
        for name, module in self.named_modules():
            if isinstance(module, nn.Linear):
                gain = 1 / math.sqrt(2) if name.endswith(("q_proj", "k_proj", "v_proj")) else 1.0
                nn.init.xavier_uniform_(module.weight, gain=gain)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.LayerNorm) and module.elementwise_affine:
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        for emb in (self.embed, self.tgt_embed):
            nn.init.normal_(emb.weight, mean=0.0, std=self.cfg.dim**-0.5)
            with torch.no_grad():
                emb.weight[self.pad_id].zero_()
        if self.out_proj is not None:
            nn.init.normal_(self.out_proj.weight, mean=0.0, std=self.cfg.dim**-0.5)

    # --- attention mode -------------------------------------------------------------

    @property
    def attention(self) -> str:
        """The current attention implementation: ``"sdpa"`` or ``"math"``."""
        return self._attention

    def set_attention(self, mode: str) -> None:
        """Use fused ``"sdpa"`` attention or plain ``"math"`` (twice differentiable)."""
        if mode not in ATTENTION_MODES:
            raise ValueError(f"attention must be one of {', '.join(ATTENTION_MODES)}, got '{mode}'")
        self._attention = mode
        for module in self.modules():
            if isinstance(module, MultiHeadAttention):
                module.use_sdpa = mode == "sdpa"

    @contextmanager
    def math_attention(self) -> Iterator[None]:
        """Within the block attention uses plain math ops, e.g. for Hessian-vector products."""
        previous = self.attention
        self.set_attention("math")
        try:
            yield
        finally:
            self.set_attention(previous)

    # --- embeddings -----------------------------------------------------------------

    def embed_tokens(
        self, tokens: Tensor, embed: nn.Embedding, offset: int, positions: Tensor | None = None
    ) -> Tensor:
        """``tokens (B, T)`` at positions ``offset .. offset+T-1``, or at ``positions (B, T)``
        (packed rows), -> ``(B, T, D)``."""
        T = tokens.size(1)
        if offset + T > self.positions.size(0):  # bounds any packed position too
            raise ValueError(
                f"sequence of length {offset + T} is longer than max_positions={self.positions.size(0)}"
            )
        pos = self.positions[offset : offset + T] if positions is None else self.positions[positions]
        x = embed(tokens) * self.embed_scale + pos  # (B, T, D)
        return self.dropout(x)

    @property
    def output_weight(self) -> Tensor:
        """``(V, D)`` output projection: the target embedding when tied."""
        return self.tgt_embed.weight if self.out_proj is None else self.out_proj.weight

    def output_logits(self, x: Tensor) -> Tensor:
        """``(B, T, D)`` -> ``(B, T, V)``."""
        return F.linear(x, self.output_weight)

    # --- encoder and decoder --------------------------------------------------------

    def encode(self, src: Tensor, src_seg: Tensor | None = None) -> EncoderOut:
        """Encode ``src (B, S)`` (right-padded token ids).

        ``src_seg (B, S)`` marks packed rows: several sentences per row, numbered 1, 2, ...,
        with 0 on padding (see :func:`segment_positions`). Each sentence then attends only to
        itself and has its own positions, so its states equal those it gets in a row of its own.
        """
        src_pad = src.eq(self.pad_id)  # (B, S)
        if src_seg is None:
            keep = ~src_pad[:, None, None, :]  # (B, 1, 1, S)
            x = self.embed_tokens(src, self.embed, 0)  # (B, S, D)
        else:
            keep = segment_mask(src_seg, src_seg)  # (B, 1, S, S)
            x = self.embed_tokens(src, self.embed, 0, segment_positions(src_seg))
        for layer in self.encoder_layers:
            x = layer(x, keep)
        if self.encoder_norm is not None:
            x = self.encoder_norm(x)
        return EncoderOut(x, src_pad, src_seg)

    def new_cache(self, enc: EncoderOut) -> DecoderCache:
        """An empty decoding cache for ``enc``, with each layer's cross-attention keys/values."""
        layers = []
        for layer in cast(Iterable[DecoderLayer], self.decoder_layers):
            k, v = layer.cross_attn.keys_values(enc.memory)  # (B, H, S, Dh)
            layers.append(LayerCache(k, v))
        return DecoderCache(layers)

    def reorder_cache(
        self, cache: DecoderCache, index: Tensor, same_sources: bool = False
    ) -> DecoderCache:
        """Rows ``index (B',)`` of ``cache`` for beam search (``enc.select`` does the same for
        the encoder output); see :meth:`DecoderCache.select` for ``same_sources``."""
        return cache.select(index, same_sources)

    @overload
    def decode(
        self,
        tgt_in: Tensor,
        enc: EncoderOut,
        cache: None = None,
        tgt_seg: Tensor | None = None,
        features_only: bool = False,
    ) -> tuple[Tensor, None]: ...
    @overload
    def decode(
        self,
        tgt_in: Tensor,
        enc: EncoderOut,
        cache: DecoderCache,
        tgt_seg: None = None,
        features_only: bool = False,
    ) -> tuple[Tensor, DecoderCache]: ...

    def decode(
        self,
        tgt_in: Tensor,
        enc: EncoderOut,
        cache: DecoderCache | None = None,
        tgt_seg: Tensor | None = None,
        features_only: bool = False,
    ) -> tuple[Tensor, DecoderCache | None]:
        """Decoder logits (or, with ``features_only``, the final states before the output
        projection, ``(B, T, D)``).

        Args:
            tgt_in: ``(B, T)`` decoder input. Without a cache: the whole prefix, starting with
                the target-language tag (all positions computed, causally masked). With a
                cache: only the newest token(s), following the ``cache.length`` cached ones.
            enc: the encoder output for the same rows.
            cache: from :meth:`new_cache`; updated in place (and returned).
            tgt_seg: ``(B, T)`` segment ids of packed rows (teacher forcing only), matching
                the packed source of ``enc``: sentence ``k`` of a target row attends to
                sentence ``k`` of its source row.

        Returns:
            ``(B, T, V)`` logits for the given positions, and the cache.

        Raises:
            ValueError: packed targets with a cache, or packed targets and an unpacked source
                (or the reverse).
        """
        offset = 0 if cache is None else cache.length
        self_keep = positions = None
        if (tgt_seg is None) != (enc.src_seg is None):
            raise ValueError("packed rows need segment ids for both the source and the target")
        if tgt_seg is None or enc.src_seg is None:
            keep = ~enc.src_pad[:, None, None, :]  # (B, 1, 1, S)
        elif cache is not None:
            raise ValueError("packed rows are for teacher forcing; decode with a cache unpacked")
        else:
            keep = segment_mask(tgt_seg, enc.src_seg)  # (B, 1, T, S)
            self_keep = segment_mask(tgt_seg, tgt_seg)  # (B, 1, T, T)
            positions = segment_positions(tgt_seg)
        x = self.embed_tokens(tgt_in, self.tgt_embed, offset, positions)  # (B, T, D)
        for i, layer in enumerate(self.decoder_layers):
            x = layer(x, enc, keep, None if cache is None else cache.layers[i], self_keep)
        if self.decoder_norm is not None:
            x = self.decoder_norm(x)
        if cache is not None:
            cache.length += tgt_in.size(1)
        return x if features_only else self.output_logits(x), cache

    def forward(
        self,
        src: Tensor,
        tgt_in: Tensor,
        src_seg: Tensor | None = None,
        tgt_seg: Tensor | None = None,
        target: Tensor | None = None,
        label_smoothing: float = 0.0,
        loss_chunk: int = DEFAULT_CHUNK,
    ) -> Any:
        """Teacher-forced logits: ``src (B, S)``, ``tgt_in (B, T)`` -> ``(B, T, V)``; or, given
        ``target (B, T)``, the label-smoothed loss ``(loss_sum, nll_sum, n_tokens)`` computed
        without the logits (:func:`~catsmt.model.fused_loss.fused_label_smoothed_loss`,
        ``loss_chunk`` target positions at a time; not twice differentiable).

        ``src_seg``/``tgt_seg`` (both or neither) describe packed rows, see :meth:`encode`.
        The loss lives in ``forward`` so that DDP and ``torch.compile`` wrappers see it.
        """
        enc = self.encode(src, src_seg)
        if target is None:
            logits, _ = self.decode(tgt_in, enc, tgt_seg=tgt_seg)
            return logits
        states, _ = self.decode(tgt_in, enc, tgt_seg=tgt_seg, features_only=True)
        return fused_label_smoothed_loss(
            states, self.output_weight, target, self.pad_id, label_smoothing, loss_chunk
        )

    def num_parameters(self) -> int:
        """Number of distinct parameters (shared embeddings counted once)."""
        return sum(p.numel() for p in self.parameters())


def build_model(cfg: ModelConfig, vocab_size: int, pad_id: int) -> Transformer:
    """The model described by ``cfg`` for a vocabulary of ``vocab_size`` (see :class:`Transformer`)."""
    return Transformer(cfg, vocab_size, pad_id)
