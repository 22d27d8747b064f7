"""One optimizer update: per-language forward/backward, the weighting method, clipping, step.

Two paths, chosen by the weighting method through ``needs_task_grads(step)`` -- never by
its name:

* **weighted loss** (temperature sampling, CATS between meta updates, GradNorm between its
  updates): the method gives weights ``w_n``; each language sub-batch runs one forward and
  one backward of ``w_n * L_n``, the gradients accumulating in ``.grad``. The cost equals
  plain training on the same tokens. Under DDP only the rank's last backward all-reduces.
* **task gradients** (CATS meta updates, PCGrad, GradVac, MGDA, MultiDDS updates): each
  language's gradient ``g_n`` is computed by its own forward/backward (no graph is kept
  between languages), unscaled, averaged over DDP ranks, and passed to ``combine``; the
  returned vector becomes ``.grad``.

``L_n`` is the label-smoothed per-token mean loss of language n over all its tokens in the
update: all accumulated batches, and under DDP those of every rank. So one update of W ranks
is the update of one process on the union of their batches (docs/distributed.md).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from catsmt.data.batch import LangBatch
from catsmt.model.loss import label_smoothed_loss
from catsmt.training import distributed
from catsmt.weighting.base import TaskGradients, Weighting
from catsmt.weighting.grads import flat_grad, write_flat_grad


@dataclass
class StepContext:
    """What the step needs besides the batch; built once by the trainer."""

    model: nn.Module  # the module to call (DDP wrapper under torchrun)
    params: list[nn.Parameter]  # trainable parameters in a fixed order
    param_slices: dict[str, slice]
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    autocast: Callable[[], contextlib.AbstractContextManager[None]]
    pad_id: int
    label_smoothing: float
    clip_norm: float
    langs: list[str]  # all task names of the run (for DDP's union of batch languages)
    dev_grad: Callable[[], Tensor] | None = None
    loss_chunk: int = 0  # > 0: the model computes the loss fused, this many positions at once


@dataclass
class StepStats:
    """What happened in one update (per-language numbers are this rank's)."""

    langs: list[str]
    loss: dict[str, float]  # label-smoothed per-token loss per language
    nll: dict[str, float]
    n_tokens: dict[str, int]
    grad_norm: float
    finite: bool
    used_task_grads: bool
    weights: list[float] = field(default_factory=list)  # w_n of the update's languages, all ranks


def _group_by_lang(parts: Sequence[LangBatch]) -> dict[str, list[LangBatch]]:
    groups: dict[str, list[LangBatch]] = {}
    for p in parts:
        groups.setdefault(p.lang, []).append(p)
    return groups


def _forward_loss(ctx: StepContext, part: LangBatch) -> tuple[Tensor, Tensor, Tensor]:
    """``(loss_sum, nll_sum, n_tokens)`` of one part: fused into the model's forward (no
    ``(B, T, V)`` logits) when ``ctx.loss_chunk > 0``, else from the logits."""
    with ctx.autocast():
        if ctx.loss_chunk > 0:
            loss: tuple[Tensor, Tensor, Tensor] = ctx.model(
                *part.inputs,
                target=part.tgt_out,
                label_smoothing=ctx.label_smoothing,
                loss_chunk=ctx.loss_chunk,
            )
            return loss
        logits = ctx.model(*part.inputs)  # (B, T, V)
    return label_smoothed_loss(logits, part.tgt_out, ctx.pad_id, ctx.label_smoothing)


def _maybe_no_sync(model: nn.Module, sync: bool) -> contextlib.AbstractContextManager[None]:
    """DDP's ``no_sync`` unless this is the backward that should all-reduce."""
    no_sync = getattr(model, "no_sync", None)
    if sync or no_sync is None:
        return contextlib.nullcontext()
    return no_sync()


def _run_parts(
    ctx: StepContext, jobs: list[tuple[LangBatch, float]], sync_last: bool
) -> Iterator[tuple[LangBatch, Tensor, Tensor, Tensor]]:
    """Forward and backward ``scale * loss_sum`` for each (part, scale); yields detached sums.

    Under DDP only the last backward all-reduces when ``sync_last``; ``no_sync`` covers the
    forward too, as DDP requires.
    """
    for i, (part, scale) in enumerate(jobs):
        sync = sync_last and i == len(jobs) - 1
        with _maybe_no_sync(ctx.model, sync):
            loss_sum, nll_sum, n = _forward_loss(ctx, part)
            ctx.scaler.scale(loss_sum * scale).backward()
        yield part, loss_sum.detach(), nll_sum.detach(), n.detach()


@dataclass
class _Update:
    """The languages of one update -- those with tokens on any rank, in the run's order -- and
    their target tokens summed over ranks: what both paths weight and divide by."""

    langs: list[str]
    tokens: Tensor  # (K,) float64 on the CPU


@dataclass
class _Sums:
    """What a path returns: this rank's loss and NLL sums per language, the weights it used."""

    loss: dict[str, float]
    nll: dict[str, float]
    weights: list[float]
    finite: bool


def _update_languages(ctx: StepContext, n_tokens: dict[str, int]) -> _Update:
    counts = torch.zeros(len(ctx.langs), dtype=torch.float64)
    for lang, n in n_tokens.items():
        counts[ctx.langs.index(lang)] = n
    distributed.all_reduce_sum(counts)
    present = [i for i, n in enumerate(counts.tolist()) if n > 0]
    return _Update([ctx.langs[i] for i in present], counts[present])


def _host_sums(langs: Sequence[str], done: list[tuple[str, Tensor, Tensor]]) -> tuple[dict[str, float], dict[str, float]]:
    """Per-language sums of the parts' (loss, nll), in one device-to-host transfer for the
    whole update (not one per part: a device sync each on a GPU)."""
    loss = dict.fromkeys(langs, 0.0)
    nll = dict.fromkeys(langs, 0.0)
    if done:
        values = torch.stack([torch.stack([ls, ns]) for _, ls, ns in done]).float().tolist()
        for (lang, _, _), (ls_v, ns_v) in zip(done, values, strict=True):
            loss[lang] += ls_v
            nll[lang] += ns_v
    return loss, nll


def train_step(ctx: StepContext, method: Weighting, step: int, parts: Sequence[LangBatch]) -> StepStats:
    """Run one optimizer update on ``parts`` (one or more sub-batches per language)."""
    groups = _group_by_lang(parts)
    n_tokens = {lang: sum(p.n_tokens for p in ps) for lang, ps in groups.items()}
    update = _update_languages(ctx, n_tokens)
    use_task_grads = method.needs_task_grads(step)
    ctx.optimizer.zero_grad(set_to_none=True)
    path = _task_gradient_update if use_task_grads else _weighted_loss_update
    sums = path(ctx, method, step, groups, n_tokens, update)

    ctx.scaler.unscale_(ctx.optimizer)
    max_norm = ctx.clip_norm if ctx.clip_norm > 0 else math.inf
    grad_norm = float(torch.nn.utils.clip_grad_norm_(ctx.params, max_norm))
    finite = sums.finite and math.isfinite(grad_norm) and all(math.isfinite(v) for v in sums.loss.values())
    if finite or ctx.scaler.is_enabled():
        ctx.scaler.step(ctx.optimizer)  # the fp16 scaler skips the step itself on inf/nan
    ctx.scaler.update()
    if method.observes_losses and finite:
        _observe_losses(ctx, method, step, sums.loss, n_tokens)
    langs = list(groups)
    return StepStats(
        langs=langs,
        loss={k: sums.loss[k] / max(n_tokens[k], 1) for k in langs},
        nll={k: sums.nll[k] / max(n_tokens[k], 1) for k in langs},
        n_tokens=n_tokens,
        grad_norm=grad_norm,
        finite=finite,
        used_task_grads=use_task_grads,
        weights=sums.weights,
    )


def _weighted_loss_update(
    ctx: StepContext, method: Weighting, step: int, groups: dict[str, list[LangBatch]],
    n_tokens: dict[str, int], update: _Update,
) -> _Sums:
    """The method's weights ``w`` for the update's languages -> one backward of ``Σ w_n L_n``.

    The weights come from the token counts of every rank's batches, so every rank gets the
    same ``w`` and the same per-token means; ``world`` undoes DDP's averaging of the summed
    gradients. Under DDP only the rank's last backward all-reduces.
    """
    w = method.loss_weights(step, update.langs, update.tokens.float())
    weights = [float(x) for x in w]
    scale = {lang: w_n / n for lang, w_n, n in zip(update.langs, weights, update.tokens.tolist(), strict=True)}
    world = distributed.world_size()
    jobs = [(p, world * scale.get(lang, 0.0)) for lang in groups for p in groups[lang]]
    done = [(part.lang, ls, ns) for part, ls, ns, _ in _run_parts(ctx, jobs, sync_last=True)]
    loss, nll = _host_sums(list(groups), done)
    return _Sums(loss, nll, weights, finite=True)


def _observe_losses(
    ctx: StepContext, method: Weighting, step: int, loss_sum: dict[str, float], n_tokens: dict[str, int]
) -> None:
    """Give the method the update's per-token loss of each language, over all ranks."""
    sums = torch.zeros(len(ctx.langs), 2, dtype=torch.float64)
    for lang, total in loss_sum.items():
        sums[ctx.langs.index(lang)] = torch.tensor([total, float(n_tokens[lang])], dtype=torch.float64)
    distributed.all_reduce_sum(sums)
    present = sums[:, 1] > 0
    langs = [lang for lang, here in zip(ctx.langs, present.tolist(), strict=True) if here]
    method.observe_losses(step, langs, (sums[present, 0] / sums[present, 1]).float(), sums[present, 1].float())


def _task_gradient_update(
    ctx: StepContext, method: Weighting, step: int, groups: dict[str, list[LangBatch]],
    n_tokens: dict[str, int], update: _Update,
) -> _Sums:
    """Per-language gradients -> ``method.combine`` -> ``.grad``.

    The ``(K, P)`` matrix is the largest thing a step allocates, so it is allocated once, for
    the update's K languages only, and changed in place: no ``(N, P)`` zeros for all the
    run's languages, no gathered copy, no ``(K, P)`` boolean mask for the finiteness check.
    The losses reach the host in one transfer after all the backward passes, not one per
    language (a device sync each on a GPU).
    """
    scale = ctx.scaler.get_scale() if ctx.scaler.is_enabled() else 1.0
    n_params = sum(p.numel() for p in ctx.params)
    device = ctx.params[0].device
    # Under DDP each rank fills the rows of its own languages and a token-weighted sum over
    # ranks gives the same (K, P) matrix on every rank.
    row = {lang: k for k, lang in enumerate(update.langs)}
    tokens = update.tokens.to(device)  # (K,)
    # Rows of languages on other ranks only must be zero for the sum; all others are written.
    alloc = torch.empty if len(groups) == len(update.langs) else torch.zeros
    rows = alloc(len(update.langs), n_params, dtype=torch.float32, device=device)  # (K, P)
    part_sums: list[tuple[str, Tensor, Tensor]] = []
    for lang, ps in groups.items():
        ctx.optimizer.zero_grad(set_to_none=True)
        jobs = [(p, 1.0 / max(n_tokens[lang], 1)) for p in ps]
        for part, ls, ns, _ in _run_parts(ctx, jobs, sync_last=False):
            part_sums.append((part.lang, ls, ns))
        k = row[lang]
        flat_grad(ctx.params, out=rows[k])
        rows[k] *= n_tokens[lang] / scale
    loss, nll = _host_sums(list(groups), part_sums)
    sums = torch.tensor([loss.get(lang, 0.0) for lang in update.langs], dtype=torch.float64, device=device)
    distributed.all_reduce_sum(rows)
    distributed.all_reduce_sum(sums)
    rows /= tokens.unsqueeze(1).float()  # (K, P) per-token mean grads
    tasks = TaskGradients(
        langs=list(update.langs),
        losses=(sums / tokens).float().cpu(),
        n_tokens=tokens.float().cpu(),
        grads=rows,
        param_slices=ctx.param_slices,
        dev_grad=ctx.dev_grad,
    )
    low, high = torch.aminmax(rows)  # NaN propagates into both
    finite = math.isfinite(float(low)) and math.isfinite(float(high))
    combined = method.combine(step, tasks) if finite else rows.sum(0)
    write_flat_grad(ctx.params, combined * scale)
    return _Sums(loss, nll, [], finite)
