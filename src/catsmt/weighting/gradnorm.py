"""GradNorm: learn task weights that equalise weighted gradient norms (Chen et al., 2018)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from catsmt.config_fields import option
from catsmt.weighting.base import (
    RunBudget,
    TaskGradients,
    Weighting,
    check_state_keys,
    check_state_langs,
    temperature_option,
)

#: Weights are kept at least this large (before renormalisation) so they stay positive.
MIN_WEIGHT = 1e-3

#: Parameter names of a decoder layer: ``decoder_layers.<i>.`` in the catsmt Transformer
#: (``decoder.layers.<i>.`` in fairseq-style models), possibly under a wrapper's prefix.
_DECODER_LAYER = re.compile(r"(?:^|\.)decoder(?:_layers|\.layers)\.(\d+)\.")


@dataclass
class GradNormParams:
    temperature: float = temperature_option()
    alpha: float = option(1.5, "asymmetry α of the target Ḡ·r_i^α: 0 = equal weighted gradient norms, larger = more weight to languages whose loss falls slowly")
    weight_lr: float = option(0.025, "learning rate of the task weights w_i (the paper: 0.025)")
    update_every: int = option(1, "update the weights (and compute per-language gradients) every this many steps")
    layer_prefix: str = option("auto", "parameters W whose gradient norms are balanced: a name prefix; 'auto' = the last decoder layer (decoder_layers.<L-1>. in the catsmt Transformer); '' = all parameters")

    def validate(self) -> None:
        if self.weight_lr < 0:
            raise ValueError(f"weight_lr must be >= 0, got {self.weight_lr}")
        if self.update_every < 1:
            raise ValueError(f"update_every must be >= 1, got {self.update_every}")


def shared_layer_slices(
    param_slices: Mapping[str, slice], prefix: str, size: int
) -> list[slice]:
    """The slices of the flat gradient that GradNorm's ``W`` (the last shared layer) covers.

    Args:
        param_slices: parameter name -> slice, as in :class:`TaskGradients`.
        prefix: a parameter name prefix; ``"auto"`` = the parameters of the highest-numbered
            decoder layer, ``decoder_layers.<i>.`` (or ``decoder.layers.<i>.``), and the whole
            vector when ``param_slices`` is empty (a loop that passes none); ``""`` = the
            whole vector.
        size: ``P``, the length of the flat gradient.

    Raises:
        ValueError: no parameter matches, naming the prefix and some parameter names.
    """
    if prefix == "" or (prefix == "auto" and not param_slices):
        return [slice(0, size)]
    if prefix == "auto":
        layers = [int(m.group(1)) for m in map(_DECODER_LAYER.search, param_slices) if m]
        if not layers:
            raise ValueError(
                "GradNorm's layer_prefix 'auto' looks for decoder_layers.<i>. parameters but "
                f"found none (names start {', '.join(list(param_slices)[:5])}); set layer_prefix"
            )
        last = max(layers)
        chosen = [
            sl for name, sl in param_slices.items()
            if (m := _DECODER_LAYER.search(name)) and int(m.group(1)) == last
        ]
    else:
        chosen = [sl for name, sl in param_slices.items() if name.startswith(prefix)]
    if not chosen:
        names = ", ".join(list(param_slices)[:5]) or "none given"
        raise ValueError(
            f"no parameter name starts with GradNorm's layer_prefix '{prefix}' (names: {names})"
        )
    return chosen


class GradNorm(Weighting):
    """GradNorm: learned language weights that equalise the weighted gradient norms.

    Chen et al., ICML 2018, "GradNorm: Gradient Normalization for Adaptive Loss Balancing in
    Deep Multitask Networks".

    Learnable weights ``w_i > 0`` over all N languages (initialised to 1, kept summing to N).
    The model minimises ``Σ_k w̃_k L_k`` over the batch's K languages with
    ``w̃_k = w_k / Σ_{j in batch} w_j``: with all ``w = 1`` this is the plain mean of the
    per-language losses, and the step size does not depend on which languages were drawn.

    Every ``update_every`` steps the per-language gradients restricted to the shared layer W
    (``layer_prefix``) give ``G_i = ||∇_W w_i L_i|| = w_i ||g_i|_W||``; with the inverse
    training rate ``r_i = (L_i / L_i(0)) / mean_j (L_j / L_j(0))`` over the batch (``L_i(0)``
    = the loss the first time language i appears on an update step) the target is
    ``Ḡ · r_i^α`` (Ḡ the batch mean of G, treated as a constant), and the weights take
    one gradient step on ``L_grad = Σ_i |G_i - Ḡ r_i^α|`` (Sec. 3, Algorithm 1):
    ``∂L_grad/∂w_i = sign(G_i - target_i) ||g_i|_W||``. Then they are floored at
    :data:`MIN_WEIGHT` (ours, to keep them positive) and renormalised to sum to N, the
    paper's renormalisation step. The model update of that step uses the weights from before
    the update. Languages absent from a batch keep their weight, up to the renormalisation.
    """

    Params = GradNormParams
    label = "GradNorm"

    def __init__(
        self, params: GradNormParams, langs: Sequence[str], sizes: Mapping[str, int], *, budget: RunBudget | None = None
    ) -> None:
        params.validate()
        super().__init__(params, langs, sizes, budget=budget)
        self.params: GradNormParams = params
        n = len(self.langs)
        self.weights = torch.ones(n, dtype=torch.float64)  # w_i, indexed like self.langs
        self.initial_losses = torch.full((n,), math.nan, dtype=torch.float64)  # L_i(0)


    def needs_task_grads(self, step: int) -> bool:
        return step % self.params.update_every == 0

    def loss_weights(self, step: int, langs: Sequence[str], n_tokens: Tensor) -> Tensor:
        w = self.weights[self.positions(langs)]
        return (w / w.sum()).float().to(n_tokens.device)

    def combine(self, step: int, tasks: TaskGradients) -> Tensor:
        pos = self.positions(tasks.langs)
        w = self.weights[pos]
        out = (w / w.sum()).to(tasks.grads) @ tasks.grads
        if self.needs_task_grads(step):
            self._update(pos, tasks)
        return out

    def _update(self, pos: Tensor, tasks: TaskGradients) -> None:
        """One gradient step of the weights on ``L_grad``, then renormalisation."""
        columns = shared_layer_slices(tasks.param_slices, self.params.layer_prefix, tasks.grads.shape[1])
        parts = torch.stack([tasks.grads[:, sl].norm(dim=1) for sl in columns], dim=1)  # (K, S)
        norms = parts.double().norm(dim=1).cpu()  # (K,) ||g_i|_W||
        losses = tasks.losses.detach().double().cpu()
        if not (bool(norms.isfinite().all()) and bool(losses.isfinite().all())):
            return  # a non-finite step (the trainer skips it) must not poison the weights
        initial = self.initial_losses[pos]
        initial = torch.where(initial.isnan(), losses, initial)
        self.initial_losses[pos] = initial
        w = self.weights[pos]
        g_norm = w * norms  # G_i
        ratio = torch.where(initial > 0, losses / initial, torch.ones_like(losses))  # L̃_i
        r = ratio / ratio.mean()
        target = g_norm.mean() * r.pow(self.params.alpha)
        grad = torch.sign(g_norm - target) * norms
        self.weights[pos] = w - self.params.weight_lr * grad
        self.weights.clamp_(min=MIN_WEIGHT)
        self.weights *= len(self.langs) / self.weights.sum()

    def state_dict(self) -> dict[str, Any]:
        return {
            "langs": list(self.langs),
            "weights": self.weights.clone(),
            "initial_losses": self.initial_losses.clone(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        check_state_keys(state, ["langs", "weights", "initial_losses"], "gradnorm")
        check_state_langs(state, self.langs, "gradnorm")
        self.weights = state["weights"].detach().double().cpu().clone()
        self.initial_losses = state["initial_losses"].detach().double().cpu().clone()

    def log_values(self) -> dict[str, float]:
        return {f"weight/{lang}": float(w) for lang, w in zip(self.langs, self.weights, strict=True)}
