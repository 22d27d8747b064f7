"""FAMO: language weights from the changes of the per-language losses, O(1) per step
(Liu et al., 2023)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from catsmt.config_fields import option
from catsmt.weighting.base import RunBudget, Weighting, check_state_keys, check_state_langs

OPTIMIZERS = ("adam", "sgd")
#: Adam's constants for the logits: PyTorch's defaults, which the authors' code uses.
ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8
#: ``ℓ − loss_floor`` is kept at least this large before its logarithm.
MIN_LOSS_GAP = 1e-8


@dataclass
class FAMOParams:
    logit_lr: float = option(0.025, "learning rate β of the logits ξ (the paper: 0.025)")
    decay: float = option(0.001, "weight decay γ of the logits, ξ ← ξ − β(δ + γξ): pulls the weights back towards uniform")
    optimizer: str = option("adam", "how ξ follows its gradient δ + γξ: adam (the authors' released code, step size β) or sgd (Algorithm 1 as printed)")
    loss_floor: float = option(0.0, "lower bound ℓ* of every loss, subtracted before the logarithm: FAMO balances log(ℓ_n − ℓ*) (0 for cross-entropy)")
    temperature: float = option(float("inf"), "data sampling temperature; inf (uniform over languages, the default) lets consecutive updates share languages")

    def validate(self) -> None:
        for name in ("logit_lr", "decay"):
            value = getattr(self, name)
            if not (value >= 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be a finite number >= 0, got {value}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got '{self.optimizer}'")
        if not math.isfinite(self.loss_floor):
            raise ValueError(f"loss_floor must be finite, got {self.loss_floor}")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0 (inf for uniform), got {self.temperature}")


class FAMO(Weighting):
    """FAMO: Fast Adaptive Multitask Optimization, language weights that make every language's
    log-loss fall at the same rate, from the losses alone (no per-language gradients).

    Liu, Feng, Stone and Liu, NeurIPS 2023, "FAMO: Fast Adaptive Multitask Optimization",
    Algorithm 1. Logits ξ (zero at the start) give ``z = softmax(ξ)``; the model update is
    ``Σ_k c z_k / ℓ_k ∇ℓ_k`` with ``c = (Σ_k z_k / ℓ_k)⁻¹``, the gradient of ``c Σ_k z_k log ℓ_k``,
    so :meth:`loss_weights` returns ``w_k = (z_k / ℓ_k) / Σ_j (z_j / ℓ_j)`` over
    the batch's languages. The logits then follow the rate of improvement
    ``d_k = log ℓ_k(θ_t) − log ℓ_k(θ_{t+1})``: ``δ = J_z(ξ)ᵀ d`` with the softmax
    Jacobian ``J_z = diag(z) − z zᵀ``, i.e. ``δ_k = z_k (d_k − Σ_j z_j d_j)``, and
    ``ξ ← ξ − β (δ + γ ξ)`` -- or, by default and as in the authors' released code, one Adam
    step with learning rate β on the gradient ``δ + γ ξ``.

    Choices for a loop that sees a loss once per update and a batch that holds K ≤ N
    languages (``docs/weighting.md``):

    * ``ℓ_k(θ_{t+1})`` is the loss the *next* update observes (:meth:`observe_losses`), on its
      own batch, before it moves θ -- the O(1) variant: no second forward pass on the same
      batch. ``d`` is taken for the languages in both updates; a language missing from
      either update has no rate for that step.
    * The weights of update t use the latest observed loss of each language (from an earlier
      update: the loop asks for weights before the forward pass); a language not yet seen
      counts as the batch's mean of those seen (all equal at the start: ``w ∝ z``).
    * With S the languages that have a rate, ``δ`` is FAMO's step for the languages S alone:
      the softmax over ``ξ_S``, ``δ_S = z̃ ⊙ (d_S − z̃·d_S)``, zero elsewhere; the decay ``γξ``
      acts on all N logits, and Adam keeps one moment per language. When every update holds
      all N languages this is Algorithm 1 exactly.
    * ``log(ℓ − loss_floor)``, with the gap kept ≥ 1e-8.
    """

    Params = FAMOParams
    label = "FAMO"
    observes_losses = True

    def __init__(
        self, params: FAMOParams, langs: Sequence[str], sizes: Mapping[str, int], *, budget: RunBudget | None = None
    ) -> None:
        params.validate()
        super().__init__(params, langs, sizes, budget=budget)
        self.params: FAMOParams = params
        n = len(self.langs)
        self.xi = torch.zeros(n, dtype=torch.float64)  # ξ, the logits of z
        self.adam_m = torch.zeros(n, dtype=torch.float64)
        self.adam_v = torch.zeros(n, dtype=torch.float64)
        self.adam_steps = 0
        self.last_loss = torch.full((n,), math.nan, dtype=torch.float64)  # latest ℓ_n seen
        self.prev_langs: list[str] = []  # the languages of the latest observed update
        self.logit_steps = 0

    def z(self) -> Tensor:
        """``(N,)`` float64 ``softmax(ξ)``."""
        return torch.softmax(self.xi, dim=0)

    def _log_gap(self, losses: Tensor) -> Tensor:
        return torch.log((losses - self.params.loss_floor).clamp_min(MIN_LOSS_GAP))

    def loss_weights(self, step: int, langs: Sequence[str], n_tokens: Tensor) -> Tensor:
        pos = self.positions(langs)
        z = self.z()[pos]
        loss = self.last_loss[pos]
        seen = ~loss.isnan()
        fill = loss[seen].mean() if bool(seen.any()) else torch.tensor(1.0, dtype=torch.float64)
        gap = (torch.where(seen, loss, fill) - self.params.loss_floor).clamp_min(MIN_LOSS_GAP)
        w = z / gap
        return (w / w.sum()).float().to(n_tokens.device)

    def observe_losses(self, step: int, langs: Sequence[str], losses: Tensor, n_tokens: Tensor) -> None:
        """``ℓ(θ_{t+1})`` of the previous update's languages: one step of ξ, then remember."""
        pos = self.positions(langs)
        now = losses.detach().double().cpu()
        keep = now.isfinite()
        pos, now = pos[keep], now[keep]
        before = set(self.prev_langs)
        both = torch.tensor([lang in before for lang in (self.langs[int(i)] for i in pos)], dtype=torch.bool)
        if bool(both.any()):
            idx = pos[both]
            rate = self._log_gap(self.last_loss[idx]) - self._log_gap(now[both])  # d_k
            self._logit_step(idx, rate)
        self.last_loss[pos] = now
        self.prev_langs = [self.langs[int(i)] for i in pos]

    def _logit_step(self, idx: Tensor, rate: Tensor) -> None:
        """One step of ξ on ``δ + γξ``, δ from the rates ``d`` of the languages ``idx``."""
        p = self.params
        z_s = torch.softmax(self.xi[idx], dim=0)
        grad = p.decay * self.xi
        grad[idx] += z_s * (rate - z_s @ rate)  # δ_S = J_zᵀ d, J_z = diag(z) − z zᵀ
        if p.optimizer == "sgd":
            self.xi -= p.logit_lr * grad
        else:
            b1, b2 = ADAM_BETAS
            self.adam_steps += 1
            self.adam_m = b1 * self.adam_m + (1 - b1) * grad
            self.adam_v = b2 * self.adam_v + (1 - b2) * grad * grad
            m_hat = self.adam_m / (1 - b1**self.adam_steps)
            v_hat = self.adam_v / (1 - b2**self.adam_steps)
            self.xi -= p.logit_lr * m_hat / (v_hat.sqrt() + ADAM_EPS)
        self.logit_steps += 1

    def state_dict(self) -> dict[str, Any]:
        return {
            "langs": list(self.langs),
            "xi": self.xi.clone(),
            "adam_m": self.adam_m.clone(),
            "adam_v": self.adam_v.clone(),
            "adam_steps": self.adam_steps,
            "last_loss": self.last_loss.clone(),
            "prev_langs": list(self.prev_langs),
            "logit_steps": self.logit_steps,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        keys = ["langs", "xi", "adam_m", "adam_v", "adam_steps", "last_loss", "prev_langs", "logit_steps"]
        check_state_keys(state, keys, "famo")
        check_state_langs(state, self.langs, "famo")
        for name in ("xi", "adam_m", "adam_v", "last_loss"):
            setattr(self, name, state[name].detach().double().cpu().clone())
        self.adam_steps = int(state["adam_steps"])
        self.prev_langs = [str(lang) for lang in state["prev_langs"]]
        self.logit_steps = int(state["logit_steps"])

    def log_values(self) -> dict[str, float]:
        """``z = softmax(ξ)`` per language."""
        return {f"famo_z/{lang}": float(v) for lang, v in zip(self.langs, self.z(), strict=True)}
