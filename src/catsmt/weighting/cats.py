"""CATS: Curvature-Aware Task Scaling (Li & Gong, NeurIPS 2021, Section 3.3, Algorithm 1).

The model is trained on ``Σ_n α_n L_n``; every ``m`` updates (a meta update) the per-language
weights α take one descent step on the Lagrangian of Eq. 4 and the multipliers λ one
projected ascent step, both from the gradients of the same batch and at the same point
(Algorithm 1, line 11)::

    L_CATS(θ, α, λ) = Σ_n α_n L_n − λ_c (ε − ‖Σ_n α_n g_n‖²) + λ_s (Σ_n α_n − 1)² − Σ_n λ_n (α_n − ε_α)

with ``g_n = ∇_θ L_n`` and ``G = [g_i · g_j]``, so ``‖Σ α_n g_n‖² = αᵀGα`` (cross terms kept):

    ∂L/∂α_n  = L_n + 2 λ_c (Gα)_n + 2 λ_s (Σα − 1) − λ_n        (α: descent)
    ∂L/∂λ_c  = αᵀGα − ε,  ∂L/∂λ_s = (Σα − 1)²,  ∂L/∂λ_n = ε_α − α_n   (λ: ascent, then max(0, ·))

Two modes (``docs/cats.md`` has the table of every choice and the measurements):

* ``projected`` (the default). The constraints of Eq. 3 -- α on the simplex, every
  ``α_n ≥ alpha_min`` -- are held *exactly* instead of through the penalty and the λ_s, λ_n
  multipliers: the α step is ``α_B ← Π(α_B − η ∂L/∂α_B)``, the Euclidean projection onto
  ``{x : Σ x = Σ α_B, x ≥ alpha_min}`` (the batch's languages B keep their total, the others
  are not touched, so Σα = 1 over all N languages). Loss and Gram terms are scale-free
  (``L_n / mean_B L`` and ``G / mean_B diag G``), λ_c ascends on ``αᵀGα − ε`` and is kept in
  ``[0, lambda_max]`` (a box-constrained dual), and the step is ``min(alpha_lr, 1/Lip)`` with
  ``Lip = 2 λ_c ‖G‖₂``; with λ_c bounded and ``‖Ĝ‖₂ ≤ K`` that step never falls below
  ``min(alpha_lr, 1 / (2 lambda_max K))``, so α keeps learning however long the run.
* ``literal``: Eq. 4 and Algorithm 1 with nothing added -- raw ``L_n`` and ``G``, plain SGD on
  α, the penalty ``λ_s (Σ_{n∈B} α_n − 1)²`` and the λ_n terms of the batch's languages, no
  projection, no clip, no step cap, and the model updated with the raw ``Σ α̃_n g_n``. It
  does not stay on the simplex (every ``L_n > 0`` drains α); kept to reproduce the paper.
"""

from __future__ import annotations

import math
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
)

MODES = ("projected", "literal")
#: How Eq. 4's loss term Σ α_n L_n moves α: descent (the paper), ascent (the robust,
#: worst-case reading: weight moves to the languages with the larger loss), or not at all.
LOSS_TERMS = ("descent", "ascent", "none")


@dataclass
class CATSParams:
    mode: str = option("projected", "α update: 'projected' (α held on the capped simplex exactly, λ_c bounded) or 'literal' (Eq. 4 + Algorithm 1 with nothing added; collapses)")
    alpha_lr: float = option(0.1, "learning rate η_α of the α descent step (the paper: 0.1 or 0.2)")
    multiplier_lr: float = option(0.5, "gradient-ascent step size of the Lagrange multipliers (not given in the paper)")
    curvature_bound: float = option(0.0, "ε of the curvature constraint αᵀGα ≤ ε (relative to mean_n ‖g_n‖² when the terms are normalized)")
    alpha_min: float = option(0.01, "lower bound ε_α of every α_n (held exactly in projected mode, through λ_n in literal mode)")
    lambda_max: float | None = option(None, "upper bound of λ_c; None = the mode's default (projected: 1.0, literal: unbounded)")
    normalize: bool | None = option(None, "scale-free terms L_n / mean(L) and G / mean(diag G); None = the mode's default (projected: true, literal: false)")
    loss_term: str = option("descent", "how Eq. 4's loss term moves α (projected mode): descent (the paper: weight to the smaller training loss), ascent (robust reading: weight to the larger loss) or none (curvature only)")
    center: bool = option(True, "kept so that configs of catsmt 0.1 load: true holds the batch's sum (what projected mode does); false was the penalty form, now mode=literal")
    update_every: list[list[int]] = option(
        [[8000, 10], [0, 1000]],
        "meta-update schedule [[until_step, m], ...]: every m updates until until_step; 0 = for the rest (the paper: m=10 for 8k updates, then 1000)",
    )
    meta_start: int = option(0, "first update at which α may be meta-updated")
    temperature: float = option(float("inf"), "data sampling temperature; inf (uniform over languages) makes α the effective language weight")
    token_prior: bool = option(
        False,
        "projected mode: α scales each language's token share of the batch (weights ∝ α_n·tokens_n), so uniform α trains exactly as the sampling temperature does and α corrects its shares; false: α alone weighs each language of the batch, however many tokens it has (the paper's uniform sampling)",
    )

    def validate(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got '{self.mode}'")
        if self.loss_term not in LOSS_TERMS:
            raise ValueError(f"loss_term must be one of {', '.join(LOSS_TERMS)}, got '{self.loss_term}'")
        if self.mode == "literal" and self.loss_term != "descent":
            raise ValueError("mode=literal is Eq. 4 as written: its loss term descends (loss_term=descent)")
        if self.token_prior and self.mode == "literal":
            raise ValueError("token_prior is a projected-mode option: mode=literal is Eq. 4 as written")
        if not self.center and self.mode == "projected":
            raise ValueError("center=false (the penalty form of Eq. 4) is mode=literal now; projected mode always holds the sum")
        for name in ("alpha_lr", "multiplier_lr", "curvature_bound"):
            value = getattr(self, name)
            if not (value >= 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be a finite number >= 0, got {value}")
        if not 0 <= self.alpha_min < 1:
            raise ValueError(f"alpha_min must be in [0, 1), got {self.alpha_min}")
        if self.lambda_max is not None and not self.lambda_max >= 0:
            raise ValueError(f"lambda_max must be >= 0 (or null for the mode's default), got {self.lambda_max}")
        if self.meta_start < 0:
            raise ValueError(f"meta_start must be >= 0, got {self.meta_start}")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0 (inf for uniform), got {self.temperature}")
        if not self.update_every:
            raise ValueError("update_every needs at least one [until_step, m] entry")
        for entry in self.update_every:
            if len(entry) != 2 or entry[1] < 1 or entry[0] < 0:
                raise ValueError(f"update_every entries are [until_step >= 0, m >= 1], got {entry}")

    @property
    def resolved_lambda_max(self) -> float:
        if self.lambda_max is not None:
            return float(self.lambda_max)
        return 1.0 if self.mode == "projected" else math.inf

    @property
    def resolved_normalize(self) -> bool:
        if self.normalize is not None:
            return bool(self.normalize)
        return self.mode == "projected"


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
        alpha_sum: the ``Σ α_n`` of the sum constraint (over the batch's languages, Eq. 4).
    """
    return losses + 2.0 * lambda_c * (gram @ alpha_batch) + 2.0 * lambda_s * (alpha_sum - 1.0) - lambda_batch


def project_capped_simplex(y: Tensor, total: float, floor: float) -> Tensor:
    """Euclidean projection of ``y`` onto ``{x : Σ x = total, x_i ≥ floor}``.

    With ``x = floor + z`` this is the projection of ``y − floor`` onto the simplex of mass
    ``total − K·floor``, solved exactly by sorting (Held, Wolfe & Crowder 1974; Duchi et al.
    2008): ``z = max(y − floor − τ, 0)`` with the threshold τ that makes the mass right.

    Raises:
        ValueError: ``total < K·floor`` (no feasible point).
    """
    k = y.numel()
    mass = total - k * floor
    if mass < -1e-12 * max(1.0, abs(total)):
        raise ValueError(f"no point of sum {total} has {k} entries >= {floor}")
    if mass <= 0:
        return torch.full_like(y, floor, dtype=torch.float64)
    v = y.double() - floor
    u = torch.sort(v, descending=True).values
    cumulative = torch.cumsum(u, 0) - mass
    ranks = torch.arange(1, k + 1, dtype=torch.float64)
    active = int((u - cumulative / ranks > 0).nonzero().max()) + 1  # ≥ 1: u_1 − (u_1 − mass) > 0
    tau = float(cumulative[active - 1]) / active
    return (v - tau).clamp_min(0.0) + floor


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
    label = "CATS"

    def __init__(
        self, params: CATSParams, langs: Sequence[str], sizes: Mapping[str, int], *, budget: RunBudget | None = None
    ) -> None:
        super().__init__(params, langs, sizes, budget=budget)
        n = len(self.langs)
        if params.mode == "projected" and params.alpha_min * n > 1.0 + 1e-12:
            raise ValueError(f"alpha_min={params.alpha_min} is infeasible for {n} languages: alpha_min × N must be <= 1")
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

    def batch_alpha(self, langs: Sequence[str], n_tokens: Tensor | None = None) -> Tensor:
        """The weights of the model update (float32, CPU): in projected mode α of ``langs``
        renormalised to sum to 1 (Eq. 3's batch simplex), times their token counts first
        with ``token_prior``; in literal mode the raw α̃ of Algorithm 1, line 9."""
        a = self.alpha[self.positions(langs)]
        if self.params.mode == "literal":
            return a.float()
        if self.params.token_prior:
            a = a * self._token_counts(langs, n_tokens)
        return (a / a.sum()).float()

    @staticmethod
    def _token_counts(langs: Sequence[str], n_tokens: Tensor | None) -> Tensor:
        if n_tokens is None or n_tokens.numel() != len(langs):
            raise ValueError("CATS with token_prior needs the batch's token count of each language")
        return n_tokens.detach().double().cpu()

    def loss_weights(self, step: int, langs: Sequence[str], n_tokens: Tensor) -> Tensor:
        return self.batch_alpha(langs, n_tokens).to(n_tokens.device)

    def combine(self, step: int, tasks: TaskGradients) -> Tensor:
        """Update θ with ``Σ α̃_n g_n`` (α̃ = α before this meta update, Algorithm 1 lines 6-9),
        then take the meta step on α and λ from the same gradients (lines 11-13)."""
        weights = self.batch_alpha(tasks.langs, tasks.n_tokens).to(tasks.grads)
        update = weights @ tasks.grads
        self.meta_update(tasks.langs, tasks.losses, tasks.gram(), tasks.n_tokens)
        return update

    def meta_update(self, langs: Sequence[str], losses: Tensor, gram: Tensor, n_tokens: Tensor | None = None) -> None:
        """One meta update: α descends and λ ascends Eq. 4, both at the current α (Algorithm 1,
        line 11: the two gradients are taken at the same point, then applied).

        With ``token_prior`` the tasks are the languages' token-weighted parts of the batch
        loss: with shares ``s_n = tokens_n / Σ tokens``, ``L_n → s_n L_n`` and
        ``G → diag(s) G diag(s)``, so Eq. 4 is taken of the update the model gets,
        ``Σ α_n s_n g_n`` (up to its normalisation)."""
        p: CATSParams = self.params
        idx = self.positions(langs)
        losses = losses.detach().double().cpu()
        gram = gram.detach().double().cpu()
        if p.token_prior:
            counts = self._token_counts(langs, n_tokens)
            share = counts / counts.sum()
            losses = losses * share
            gram = gram * torch.outer(share, share)
        if p.resolved_normalize:
            losses = losses / losses.mean().abs().clamp_min(1e-12)
            gram = gram / torch.diagonal(gram).mean().clamp_min(1e-30)
        a_b = self.alpha[idx]
        curv = float(curvature(a_b, gram))
        if p.mode == "projected":
            step = self._projected_step(idx, a_b, losses, gram)
        else:
            step = self._literal_step(idx, a_b, losses, gram)
        # λ_c: projected ascent on αᵀGα − ε at the same point as the α gradient, kept in [0, λ_max].
        self.lambda_c = min(p.resolved_lambda_max, max(0.0, self.lambda_c + p.multiplier_lr * (curv - p.curvature_bound)))
        self.meta_updates += 1
        self.last = {
            "curvature": curv,
            "alpha_sum": float(self.alpha.sum()),
            "alpha_step": step,
            "lambda_c": self.lambda_c,
            "lambda_s": self.lambda_s,
        }

    def _projected_step(self, idx: Tensor, a_b: Tensor, losses: Tensor, gram: Tensor) -> float:
        """α_B ← Π(α_B − η ∂L/∂α_B); the λ_s, λ_n terms are replaced by the exact projection."""
        sign = {"descent": 1.0, "ascent": -1.0, "none": 0.0}[self.params.loss_term]
        grad = sign * losses + 2.0 * self.lambda_c * (gram @ a_b)
        lip = 2.0 * self.lambda_c * float(torch.linalg.eigvalsh(gram).max())
        step = min(self.params.alpha_lr, 1.0 / lip) if lip > 0 else self.params.alpha_lr
        self.alpha[idx] = project_capped_simplex(a_b - step * grad, float(a_b.sum()), self.params.alpha_min)
        return step

    def _literal_step(self, idx: Tensor, a_b: Tensor, losses: Tensor, gram: Tensor) -> float:
        """Plain SGD on α and projected ascent on λ_s, λ_n, as Eq. 4 and Algorithm 1 write them."""
        p: CATSParams = self.params
        sum_b = float(a_b.sum())
        grad = lagrangian_alpha_grad(a_b, losses, gram, self.lambda_c, self.lambda_s, self.lambda_n[idx], sum_b)
        self.lambda_s = max(0.0, self.lambda_s + p.multiplier_lr * (sum_b - 1.0) * (sum_b - 1.0))  # inf, not OverflowError
        self.lambda_n[idx] = (self.lambda_n[idx] + p.multiplier_lr * (p.alpha_min - a_b)).clamp_min(0.0)
        self.alpha[idx] = a_b - p.alpha_lr * grad
        return p.alpha_lr

    def sampling_probs(self) -> dict[str, float]:
        from catsmt.data.sampling import temperature_probs

        return temperature_probs(self.sizes, self.params.temperature)

    def state_dict(self) -> dict[str, Any]:
        return {
            "langs": list(self.langs),
            "alpha": self.alpha.clone(),
            "lambda_c": self.lambda_c,
            "lambda_s": self.lambda_s,
            "lambda_n": self.lambda_n.clone(),
            "meta_updates": self.meta_updates,
            "last": dict(self.last),  # the last meta update's diagnostics, logged until the next
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        check_state_keys(state, ["alpha", "lambda_c", "lambda_s", "lambda_n"], "cats")
        check_state_langs(state, self.langs, "cats")
        self.alpha = state["alpha"].double().clone()
        self.lambda_c = float(state["lambda_c"])
        self.lambda_s = float(state["lambda_s"])
        self.lambda_n = state["lambda_n"].double().clone()
        self.meta_updates = int(state.get("meta_updates", 0))
        self.last = {str(k): float(v) for k, v in state.get("last", {}).items()}

    def log_values(self) -> dict[str, float]:
        out = {f"alpha/{lang}": float(self.alpha[i]) for lang, i in self.index.items()}
        out.update({f"cats/{k}": v for k, v in self.last.items()})
        return out
