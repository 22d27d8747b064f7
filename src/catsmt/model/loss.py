"""Label-smoothed cross-entropy (Szegedy et al., 2016) as fairseq defines it, and scoring."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def _at_least_float32(x: Tensor) -> Tensor:
    """``x`` in float32, or in float64 when it already is (for numerical tests)."""
    return x.to(torch.promote_types(x.dtype, torch.float32))


def label_smoothed_loss(
    logits: Tensor, target: Tensor, pad_id: int, epsilon: float
) -> tuple[Tensor, Tensor, Tensor]:
    """Label-smoothed cross-entropy summed over the non-pad target tokens.

    Per token, with ``lp = log_softmax(logits)`` over a vocabulary of size ``V``::

        loss = (1 - epsilon) * nll + epsilon * mean_v(-lp_v),   nll = -lp_target

    i.e. ``epsilon / V`` of the target mass spread uniformly over the vocabulary (fairseq's
    original ``label_smoothed_cross_entropy``; PyTorch's ``cross_entropy(label_smoothing=)``
    uses the same definition). Computed in float32 even under bf16/fp16 autocast, with one
    ``(B, T, V)`` log-softmax as the only full-size intermediate.

    Args:
        logits: ``(B, T, V)`` decoder output.
        target: ``(B, T)`` target ids; positions equal to ``pad_id`` are ignored.
        pad_id: padding id.
        epsilon: smoothing mass in ``[0, 1)``; 0 gives plain cross-entropy.

    Returns:
        ``(loss_sum, nll_sum, n_tokens)``: float32 scalars (float64 for float64 logits)
        summed over the non-pad tokens (``nll_sum`` is the unsmoothed part, for perplexity;
        divide by ``n_tokens`` for per-token means), and the long scalar number of non-pad
        tokens.
    """
    if not 0.0 <= epsilon < 1.0:
        raise ValueError(f"label smoothing epsilon must be in [0, 1), got {epsilon}")
    if logits.shape[:-1] != target.shape:
        raise ValueError(f"logits {tuple(logits.shape)} do not match target {tuple(target.shape)}")
    with torch.autocast(device_type=logits.device.type, enabled=False):
        lprobs = F.log_softmax(_at_least_float32(logits), dim=-1)  # (B, T, V)
        keep = target.ne(pad_id)  # (B, T)
        nll = -lprobs.gather(-1, target.unsqueeze(-1)).squeeze(-1)  # (B, T)
        nll_sum = nll.masked_fill(~keep, 0.0).sum()
        if epsilon == 0.0:
            loss_sum = nll_sum
        else:
            smooth = -lprobs.mean(dim=-1)  # (B, T): mean over V of -lp, no (B, T, V) copy kept
            loss_sum = (1.0 - epsilon) * nll_sum + epsilon * smooth.masked_fill(~keep, 0.0).sum()
    return loss_sum, nll_sum, keep.sum()


def per_sentence_nll(logits: Tensor, target: Tensor, pad_id: int) -> Tensor:
    """``(B,)`` summed negative log-likelihood of each target sentence (pad ignored).

    Computed like :func:`label_smoothed_loss`, in at least float32.

    Args:
        logits: ``(B, T, V)`` teacher-forced decoder output.
        target: ``(B, T)`` target ids (e.g. the hypothesis followed by ``</s>``), pad-padded.
        pad_id: padding id.
    """
    with torch.autocast(device_type=logits.device.type, enabled=False):
        lprobs = F.log_softmax(_at_least_float32(logits), dim=-1)  # (B, T, V)
        nll = -lprobs.gather(-1, target.unsqueeze(-1)).squeeze(-1)  # (B, T)
        return nll.masked_fill(target.eq(pad_id), 0.0).sum(dim=1)
