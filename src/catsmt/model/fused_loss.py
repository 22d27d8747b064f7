"""Label-smoothed cross-entropy fused with the output projection, in chunks of tokens.

The plain path (:func:`catsmt.model.loss.label_smoothed_loss`) materialises the ``(N, V)``
logits and their float32 log-softmax for every target position; with 32k target tokens and a
32k vocabulary that is 4 GiB per copy, the largest tensors of a training step. Here the
decoder states of the *non-pad* positions are projected ``chunk`` rows at a time, each chunk
reduced at once to its log-sum-exp, and the backward pass recomputes a chunk's logits to form
its gradient ``softmax - smoothed one-hot``; no ``(N, V)`` tensor is ever kept. The loss is
fairseq's (see :func:`~catsmt.model.loss.label_smoothed_loss`): per token, with
``lse = logsumexp(z)``,

    nll    = lse - z_target
    smooth = lse - mean_v(z_v)
    loss   = (1 - epsilon) * nll + epsilon * smooth

so ``d loss / d z = softmax(z) - (1 - epsilon) * onehot(target) - epsilon / V``.

Under autocast the projection runs in the autocast dtype (as ``F.linear`` would) and the
reductions in float32, in the forward and the recomputation alike. The backward is not
itself differentiable: Hessian-vector products go through the plain path.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

DEFAULT_CHUNK = 1024
"""Target positions projected at once: ``chunk * V`` float32 values live at a time."""


def _matmul_dtype(device_type: str, dtype: torch.dtype) -> torch.dtype:
    """The dtype ``F.linear`` computes in here: autocast's when it is on, else the input's."""
    if torch.is_autocast_enabled(device_type):
        return torch.get_autocast_dtype(device_type)
    return dtype


class _FusedLabelSmoothedLoss(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any, hidden: Tensor, weight: Tensor, target: Tensor, epsilon: float, chunk: int
    ) -> tuple[Tensor, Tensor]:
        dtype = _matmul_dtype(hidden.device.type, hidden.dtype)
        acc = torch.promote_types(dtype, torch.float32)
        loss_sum = hidden.new_zeros((), dtype=acc)
        nll_sum = hidden.new_zeros((), dtype=acc)
        lses = []
        with torch.autocast(hidden.device.type, enabled=False):
            w = weight.to(dtype)
            for start in range(0, hidden.size(0), chunk):
                z = F.linear(hidden[start : start + chunk].to(dtype), w).to(acc)  # (c, V)
                t = target[start : start + chunk]
                lse = torch.logsumexp(z, dim=-1)  # (c,)
                nll = lse - z.gather(-1, t[:, None]).squeeze(-1)
                smooth = lse - z.mean(dim=-1)
                nll_sum = nll_sum + nll.sum()
                loss_sum = loss_sum + ((1.0 - epsilon) * nll + epsilon * smooth).sum()
                lses.append(lse)
        ctx.save_for_backward(hidden, weight, target, torch.cat(lses) if lses else hidden.new_zeros(0))
        ctx.epsilon, ctx.chunk, ctx.dtype = epsilon, chunk, dtype
        return loss_sum, nll_sum

    @staticmethod
    def backward(
        ctx: Any, grad_loss: Tensor, grad_nll: Tensor
    ) -> tuple[Tensor | None, Tensor | None, None, None, None]:
        hidden, weight, target, lse = ctx.saved_tensors
        epsilon, chunk, dtype = ctx.epsilon, ctx.chunk, ctx.dtype
        acc = lse.dtype
        V = weight.size(0)
        grad_hidden = torch.empty_like(hidden) if ctx.needs_input_grad[0] else None
        grad_weight = torch.zeros(weight.shape, dtype=acc, device=weight.device)
        g_loss, g_nll = grad_loss.to(acc), grad_nll.to(acc)
        with torch.autocast(hidden.device.type, enabled=False):
            w = weight.to(dtype)
            for start in range(0, hidden.size(0), chunk):
                h = hidden[start : start + chunk].to(dtype)
                z = F.linear(h, w).to(acc)  # (c, V), recomputed
                t = target[start : start + chunk]
                # d/dz of g_loss * loss + g_nll * nll
                dz = (g_loss + g_nll) * torch.exp(z - lse[start : start + chunk, None])
                dz -= g_loss * epsilon / V
                dz.scatter_add_(
                    -1, t[:, None], (-(g_loss * (1.0 - epsilon) + g_nll)).expand(t.size(0), 1)
                )
                dz_c = dz.to(dtype)
                if grad_hidden is not None:
                    grad_hidden[start : start + chunk] = (dz_c @ w).to(hidden.dtype)
                grad_weight += (dz_c.t() @ h).to(acc)
        grad_w = grad_weight.to(weight.dtype) if ctx.needs_input_grad[1] else None
        return grad_hidden, grad_w, None, None, None


def fused_label_smoothed_loss(
    hidden: Tensor,
    weight: Tensor,
    target: Tensor,
    pad_id: int,
    epsilon: float,
    chunk: int = DEFAULT_CHUNK,
) -> tuple[Tensor, Tensor, Tensor]:
    """Label-smoothed cross-entropy of ``logits = hidden @ weight.T`` without the logits.

    Args:
        hidden: ``(B, T, D)`` final decoder states.
        weight: ``(V, D)`` output projection (the tied embedding).
        target: ``(B, T)`` target ids; ``pad_id`` positions are left out before projecting.
        pad_id: padding id.
        epsilon: smoothing mass in ``[0, 1)``.
        chunk: target positions projected at once.

    Returns:
        ``(loss_sum, nll_sum, n_tokens)`` exactly as
        :func:`catsmt.model.loss.label_smoothed_loss` returns them.
    """
    if not 0.0 <= epsilon < 1.0:
        raise ValueError(f"label smoothing epsilon must be in [0, 1), got {epsilon}")
    if hidden.shape[:-1] != target.shape:
        raise ValueError(f"hidden {tuple(hidden.shape)} does not match target {tuple(target.shape)}")
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    keep = target.ne(pad_id).reshape(-1)  # (B*T,)
    h = hidden.reshape(-1, hidden.size(-1))[keep]  # (N, D), non-pad positions only
    t = target.reshape(-1)[keep]  # (N,)
    loss_sum, nll_sum = _FusedLabelSmoothedLoss.apply(h, weight, t, float(epsilon), int(chunk))
    return loss_sum, nll_sum, keep.sum()
