"""What the sampler hands the training loop: one padded sub-batch per language."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class LangBatch:
    """Sentence pairs of one language (task), padded to their own lengths, or packed.

    A *packed* batch (``src_seg``/``tgt_seg`` set) holds several pairs per row, one after
    another on both sides: pair ``k`` of a row is segment ``k`` (1, 2, ...) of its source and
    of its target row, padding is segment 0, and the model keeps the pairs apart
    (:meth:`catsmt.model.Transformer.encode`).

    Attributes:
        lang: task name (the non-pivot language, or ``src-tgt`` for explicit pairs).
        src: ``(B, S)`` source token ids, with the target-language tag first when enabled,
            ending in ``</s>``, right-padded with ``pad_id``.
        tgt_in: ``(B, T)`` decoder input: the target-language tag followed by the target.
        tgt_out: ``(B, T)`` decoder output: the target followed by ``</s>``.
        pad_id: padding id.
        src_seg: ``(B, S)`` segment ids of packed rows, or None (one pair per row).
        tgt_seg: ``(B, T)`` segment ids of the target rows, or None.
    """

    lang: str
    src: Tensor
    tgt_in: Tensor
    tgt_out: Tensor
    pad_id: int
    src_seg: Tensor | None = None
    tgt_seg: Tensor | None = None

    @property
    def inputs(self) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
        """The model's arguments: ``model(*part.inputs)`` gives the teacher-forced logits."""
        return self.src, self.tgt_in, self.src_seg, self.tgt_seg

    @property
    def n_tokens(self) -> int:
        """Non-pad target tokens (what the loss is averaged over)."""
        return int((self.tgt_out != self.pad_id).sum())

    @property
    def n_sentences(self) -> int:
        """Sentence pairs (more than rows when packed)."""
        if self.src_seg is None:
            return int(self.src.shape[0])
        return int(self.src_seg.amax(dim=1).sum())

    def to(self, device: torch.device | str, non_blocking: bool = False) -> LangBatch:
        def move(t: Tensor | None) -> Tensor | None:
            return None if t is None else t.to(device, non_blocking=non_blocking)

        return LangBatch(
            self.lang,
            self.src.to(device, non_blocking=non_blocking),
            self.tgt_in.to(device, non_blocking=non_blocking),
            self.tgt_out.to(device, non_blocking=non_blocking),
            self.pad_id,
            move(self.src_seg),
            move(self.tgt_seg),
        )


@dataclass
class Batch:
    """One training batch: sub-batches of up to K distinct languages.

    Slots drawn for the same language are merged; a language's share may come as several
    length-sorted parts (``data.min_part_tokens``), so ``langs`` can repeat a language.
    The training step treats all parts of a language as one sub-batch.
    """

    parts: list[LangBatch]

    @property
    def langs(self) -> list[str]:
        return [p.lang for p in self.parts]

    @property
    def n_tokens(self) -> int:
        return sum(p.n_tokens for p in self.parts)

    def padded_tokens(self) -> int:
        """Tokens including padding, source and target, over all parts."""
        return sum(p.src.numel() + p.tgt_out.numel() for p in self.parts)

    def real_tokens(self) -> int:
        """Non-pad tokens, source and target, over all parts."""
        return sum(
            int((p.src != p.pad_id).sum()) + int((p.tgt_out != p.pad_id).sum()) for p in self.parts
        )

    def to(self, device: torch.device | str, non_blocking: bool = False) -> Batch:
        return Batch([p.to(device, non_blocking) for p in self.parts])
