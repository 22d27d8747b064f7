"""Flat gradient vectors: the currency between a training loop and a weighting method.

These helpers let any PyTorch loop use a :class:`~catsmt.weighting.base.Weighting`: collect
per-task gradients as rows of a ``(K, P)`` matrix, hand them to ``combine``, and write the
``(P,)`` result back into ``.grad`` before ``optimizer.step()``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import Tensor, nn


def trainable(params: Iterable[nn.Parameter]) -> list[nn.Parameter]:
    """The parameters that require gradients, in a fixed order."""
    return [p for p in params if p.requires_grad]


def param_slices(named: Iterable[tuple[str, nn.Parameter]]) -> dict[str, slice]:
    """Name -> slice of the flat vector, for the trainable parameters in ``named``' order."""
    out: dict[str, slice] = {}
    offset = 0
    for name, p in named:
        if not p.requires_grad:
            continue
        out[name] = slice(offset, offset + p.numel())
        offset += p.numel()
    return out


def flat_grad(params: Sequence[nn.Parameter], out: Tensor | None = None) -> Tensor:
    """Concatenate the ``.grad`` of ``params`` into one float32 vector (zeros where None).

    Args:
        params: trainable parameters.
        out: optional preallocated ``(P,)`` float32 buffer to fill (avoids an allocation).
    """
    total = sum(p.numel() for p in params)
    if out is None:
        device = params[0].device if params else torch.device("cpu")
        out = torch.empty(total, dtype=torch.float32, device=device)
    offset = 0
    for p in params:
        n = p.numel()
        if p.grad is None:
            out[offset : offset + n].zero_()
        else:
            out[offset : offset + n].copy_(p.grad.reshape(-1))
        offset += n
    return out


def write_flat_grad(params: Sequence[nn.Parameter], vec: Tensor) -> None:
    """Set each parameter's ``.grad`` from slices of ``vec`` (the inverse of :func:`flat_grad`)."""
    offset = 0
    for p in params:
        n = p.numel()
        chunk = vec[offset : offset + n].view_as(p).to(p.dtype)
        if p.grad is None:
            p.grad = chunk.clone()
        else:
            p.grad.copy_(chunk)
        offset += n
    if offset != vec.numel():
        raise ValueError(f"gradient vector has {vec.numel()} entries, parameters have {offset}")


def task_gradients(losses: Sequence[Tensor], params: Sequence[nn.Parameter]) -> Tensor:
    """``(K, P)`` gradients of each loss with respect to ``params`` via ``torch.autograd.grad``.

    The simple way for a generic multi-task loop with one shared graph (it keeps the graph
    alive between the K calls). catsmt's own trainer instead runs one forward/backward per
    language sub-batch, which needs no retained graph.
    """
    rows = []
    for k, loss in enumerate(losses):
        grads = torch.autograd.grad(
            loss, params, retain_graph=k < len(losses) - 1, allow_unused=True
        )
        rows.append(
            torch.cat(
                [
                    (g if g is not None else torch.zeros_like(p)).reshape(-1).float()
                    for g, p in zip(grads, params, strict=False)
                ]
            )
        )
    return torch.stack(rows)
