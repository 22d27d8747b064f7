"""CATS: Curvature-Aware Task Scaling (Li & Gong, NeurIPS 2021, Section 3.3, Algorithm 1).

The model is trained on ``Σ_n α_n L_n``; every ``m`` updates (a meta update) the per-language
weights α take one SGD step on the Lagrangian of Eq. 4 and the multipliers λ one projected
gradient-ascent step::

    L_CATS(θ, α, λ) = Σ_n α_n L_n − λ_c (ε − ‖Σ_n α_n g_n‖²) + λ_s (Σ_n α_n − 1)² − Σ_n λ_n (α_n − ε_α)

with ``g_n = ∇_θ L_n`` and ``G = [g_i · g_j]``, so ``‖Σ α_n g_n‖² = αᵀGα`` (cross terms kept):

    ∂L/∂α_n  = L_n + 2 λ_c (Gα)_n + 2 λ_s (Σα − 1) − λ_n        (α: descent)
    ∂L/∂λ_c  = αᵀGα − ε,  ∂L/∂λ_s = (Σα − 1)²,  ∂L/∂λ_n = ε_α − α_n   (λ: ascent, then max(0, ·))

Choices the paper leaves open, and why (see docs/cats.md for the measurements):

* **α lives on all N languages**, initialised to 1/N (Appendix B); a batch holds K of them.
  The loss and curvature terms of a meta update use the batch's K languages (Eq. 3); the
  sum constraint and the lower bounds act on all N. The model update uses the batch's α
  renormalised to sum to 1, so the step size matches token-weighted training whatever K is.
* **Scale-free terms** (``normalize: true``, the default). ``αᵀGα`` scales with the model,
  the loss and the learning-rate phase, and ``L_n`` is a few nats; taken raw, one α step of
  lr 0.1 moves α by 0.2-0.6 when α_n ≈ 1/8, which collapses α in a few meta updates. We use
  ``L̂_n = L_n / mean_B(L)`` and ``Ĝ = G / mean_B(diag G)``: both are O(1) and
  dimensionless, so ``curvature_bound`` (ε) is relative to the mean per-language squared
  gradient norm and one set of step sizes works across models. Set ``normalize: false``
  for the literal Eq. 4.
* **Two bounds.** Eq. 4 uses one ε both as the curvature bound and as α's lower bound; they
  have different units, so they are two settings: ``curvature_bound`` and ``alpha_min``.
* **The batch's sum constraint held exactly** (``center: true``, the default). Eq. 3 asks
  ``Σ_{n=1}^K α_n = 1`` over the batch's languages; Eq. 4 enforces it only through the
  penalty ``λ_s (Σα − 1)²``, whose multiplier starts at 0 and grows slowly. Since every
  ``L_n > 0``, the literal step drains α of every language in the batch at once (α summed
  to 0.49 after three meta updates on tatoeba-related). We project the α step onto the
  tangent of the constraint: the gradient is centred over the batch's languages, so a meta
  update moves weight *between* them and their total is unchanged; the λ_s term still acts
  on any drift (from clipping at 0). ``center: false`` gives the literal penalty form.
* **A safe α step**: the step is ``min(alpha_lr, 1/Lip)`` where ``Lip = 2 λ_c ‖G‖₂ + 2 λ_s N``
  bounds the curvature of Eq. 4 in α. Without it, as λ_c grows by ascent the SGD step on
  ``λ_c αᵀGα`` overshoots, α oscillates and piles onto a few languages.
* **α stays non-negative**: after each step α is clipped at 0 (the λ_n terms keep it above
  ``alpha_min`` softly, as Eq. 4 intends; the clip only stops a negative loss weight).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from catsmt.config_fields import option
from catsmt.weighting.base import TaskGradients, Weighting, check_state_keys, check_state_langs


@dataclass
class CATSParams:
    alpha_lr: float = option(0.1, "SGD learning rate of α (the paper: 0.1 or 0.2)")
    multiplier_lr: float = option(0.5, "gradient-ascent step size η of the Lagrange multipliers λ_c, λ_s, λ_n (not given in the paper)")
    curvature_bound: float = option(0.0, "ε of the curvature constraint αᵀGα ≤ ε (relative to mean_n ‖g_n‖² when normalize is true)")
    alpha_min: float = option(0.01, "lower bound of each α_n, enforced by the λ_n multipliers")
    normalize: bool = option(True, "scale-free terms: L_n / mean(L) and G / mean(diag G); false = literal Eq. 4")
    center: bool = option(True, "project the α step onto Σ_{n∈B} α_n = const (the batch's sum constraint held exactly); false = Eq. 4's penalty alone")
    update_every: list[list[int]] = option(
        [[8000, 10], [0, 1000]],
        "meta-update schedule [[until_step, m], ...]: every m updates until until_step; 0 = for the rest (the paper: m=10 for 8k updates, then 1000)",
    )
    meta_start: int = option(0, "first update at which α may be meta-updated")
    temperature: float = option(float("inf"), "data sampling temperature; inf (uniform over languages) makes α the effective language weight")

    def validate(self) -> None:
        if self.alpha_lr < 0 or self.multiplier_lr < 0:
            raise ValueError("alpha_lr and multiplier_lr must be >= 0")
        if not self.update_every:
            raise ValueError("update_every needs at least one [until_step, m] entry")
        for entry in self.update_every:
            if len(entry) != 2 or entry[1] < 1 or entry[0] < 0:
                raise ValueError(f"update_every entries are [until_step >= 0, m >= 1], got {entry}")


def meta_interval(schedule: Sequence[Sequence[int]], step: int) -> int:
    """The ``m`` in force at ``step`` for a schedule ``[[until_step, m], ...]``."""
    for until, m in schedule:
        if until == 0 or step < until:
            return int(m)
    return int(schedule[-1][1])


def curvature(alpha: Tensor, gram: Tensor) -> Tensor:
    """``αᵀGα = ‖Σ_n α_n g_n‖²`` (Eq. 3), cross terms included."""
    return alpha @ gram @ alpha


def lagrangian_alpha_grad(
    alpha_batch: Tensor,
    losses: Tensor,
    gram: Tensor,
    lambda_c: float,
    lambda_s: float,
    lambda_batch: Tensor,
    alpha_sum: float,
) -> Tensor:
    """``∂L_CATS/∂α_n`` of Eq. 4 for the batch's languages.

    Args:
        alpha_batch: ``(K,)`` α of the batch's languages.
        losses: ``(K,)`` their losses ``L_n`` (normalised or raw).
        gram: ``(K, K)`` their Gram matrix ``G`` (normalised or raw).
        lambda_c, lambda_s: the curvature and sum multipliers.
        lambda_batch: ``(K,)`` the lower-bound multipliers λ_n of those languages.
        alpha_sum: ``Σ_n α_n`` over all N languages.
    """
    return losses + 2.0 * lambda_c * (gram @ alpha_batch) + 2.0 * lambda_s * (alpha_sum - 1.0) - lambda_batch


class CATS(Weighting):
    """Curvature-Aware Task Scaling: meta-learned language weights α that keep the weighted
    gradient ``‖Σ α_n g_n‖²`` -- the empirical Fisher trace, a proxy of curvature -- small.

    Li & Gong, "Robust Optimization for Multilingual Translation with Imbalanced Data",
    NeurIPS 2021: Eq. 3 (the curvature objective), Eq. 4 (its Lagrangian), Algorithm 1 (α
    and λ updated every m steps, θ updated with α held fixed in between).

    Between meta updates a step costs what plain training costs: one weighted loss, one
    backward. Only meta updates need per-language gradients.
    """

    Params = CATSParams

    def __init__(self, params: CATSParams, langs: Sequence[str], sizes: Mapping[str, int]) -> None:
        super().__init__(params, langs, sizes)
        n = len(self.langs)
        self.alpha = torch.full((n,), 1.0 / n, dtype=torch.float64)  # on the simplex (Appendix B)
        self.lambda_c = 0.0
        self.lambda_s = 0.0
        self.lambda_n = torch.zeros(n, dtype=torch.float64)
        self.meta_updates = 0
        self.last: dict[str, float] = {}

    def needs_task_grads(self, step: int) -> bool:
        p: CATSParams = self.params
        if step < p.meta_start:
            return False
        return (step - p.meta_start) % meta_interval(p.update_every, step) == 0

    def batch_alpha(self, langs: Sequence[str]) -> Tensor:
        """α of ``langs`` renormalised to sum to 1: the weights of the model update."""
        a = self.alpha[[self.index[lang] for lang in langs]]
        total = float(a.sum())
        if total <= 0:
            return torch.full((len(langs),), 1.0 / len(langs), dtype=torch.float32)
        return (a / total).float()

    def loss_weights(self, step: int, langs: Sequence[str], n_tokens: Tensor) -> Tensor:
        return self.batch_alpha(langs)

    def combine(self, step: int, tasks: TaskGradients) -> Tensor:
        """Update θ with ``Σ α̃_n g_n`` (α̃ = α before this meta update, Algorithm 1 lines 6-9),
        then take the meta step on α and λ from the same gradients (lines 11-13)."""
        weights = self.batch_alpha(tasks.langs).to(tasks.grads)
        update = weights @ tasks.grads
        self.meta_update(tasks.langs, tasks.losses, tasks.gram())
        return update

    def meta_update(self, langs: Sequence[str], losses: Tensor, gram: Tensor) -> None:
        """One step of α (descent) and λ (projected ascent) on Eq. 4."""
        p: CATSParams = self.params
        idx = torch.tensor([self.index[lang] for lang in langs])
        losses = losses.double().cpu()
        gram = gram.double().cpu()
        if p.normalize:
            losses = losses / losses.mean().clamp_min(1e-12)
            gram = gram / torch.diagonal(gram).mean().clamp_min(1e-30)
        a_b = self.alpha[idx]
        grad = torch.zeros_like(self.alpha) + 2.0 * self.lambda_s * (float(self.alpha.sum()) - 1.0) - self.lambda_n
        grad[idx] = lagrangian_alpha_grad(
            a_b, losses, gram, self.lambda_c, self.lambda_s, self.lambda_n[idx], float(self.alpha.sum())
        )
        if p.center:
            grad[idx] -= grad[idx].mean()
        lr = min(p.alpha_lr, self._stable_lr(gram))
        self.alpha = (self.alpha - lr * grad).clamp_min(0.0)
        # Multipliers: gradient ascent with the new α, kept non-negative.
        a_b = self.alpha[idx]
        curv = float(curvature(a_b, gram))
        sum_gap = float(self.alpha.sum()) - 1.0
        self.lambda_c = max(0.0, self.lambda_c + p.multiplier_lr * (curv - p.curvature_bound))
        self.lambda_s = max(0.0, self.lambda_s + p.multiplier_lr * sum_gap**2)
        self.lambda_n = (self.lambda_n + p.multiplier_lr * (p.alpha_min - self.alpha)).clamp_min(0.0)
        self.meta_updates += 1
        self.last = {"curvature": curv, "alpha_sum": float(self.alpha.sum()), "lambda_c": self.lambda_c, "lambda_s": self.lambda_s}

    def _stable_lr(self, gram: Tensor) -> float:
        """``1 / Lip``: the largest α step that cannot overshoot on the quadratic part of Eq. 4.

        ``∂L/∂α`` is Lipschitz with constant ``2 λ_c ‖G‖₂ + 2 λ_s N``; SGD with a step above
        ``1 / Lip`` oscillates and diverges once λ_c has grown (observed as α collapsing).
        """
        lip = 2.0 * self.lambda_c * float(torch.linalg.eigvalsh(gram).max()) + 2.0 * self.lambda_s * len(self.langs)
        return 1.0 / lip if lip > 0 else float("inf")

    def sampling_probs(self) -> dict[str, float]:
        from catsmt.weighting.base import temperature_probs

        return temperature_probs(self.sizes, self.params.temperature)

    def state_dict(self) -> dict[str, Any]:
        return {
            "langs": list(self.langs),
            "alpha": self.alpha.clone(),
            "lambda_c": self.lambda_c,
            "lambda_s": self.lambda_s,
            "lambda_n": self.lambda_n.clone(),
            "meta_updates": self.meta_updates,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        check_state_keys(state, ["alpha", "lambda_c", "lambda_s", "lambda_n"], "cats")
        check_state_langs(state, self.langs, "cats")
        self.alpha = state["alpha"].double().clone()
        self.lambda_c = float(state["lambda_c"])
        self.lambda_s = float(state["lambda_s"])
        self.lambda_n = state["lambda_n"].double().clone()
        self.meta_updates = int(state.get("meta_updates", 0))

    def log_values(self) -> dict[str, float]:
        out = {f"alpha/{lang}": float(self.alpha[i]) for lang, i in self.index.items()}
        out.update({f"cats/{k}": v for k, v in self.last.items()})
        return out
