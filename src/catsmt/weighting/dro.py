"""Distributionally robust weighting: the worst-case language mixture in a χ² ball around the
data distribution, updated by iterated best response (Zhou et al., 2021)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from catsmt.config_fields import option
from catsmt.weighting.base import (
    RunBudget,
    Weighting,
    check_state_keys,
    check_state_langs,
    temperature_probs,
    token_weights,
)

MODES = ("resample", "reweight")


@dataclass
class DROParams:
    rho: float = option(0.05, "radius ρ of the χ² ball {q : ½ Σ_n (q_n − p_n)² / p_n ≤ ρ} around the baseline p (the paper's runs: 0.05)")
    temperature: float = option(1.0, "temperature T of the baseline p_n ∝ |D_n|^(1/T) (the paper: 1, the data's own proportions)")
    min_ratio: float = option(0.2, "lower bound c of q_n / p_n: no language's share falls below c times its baseline (the authors' code: 0.2; 0 = the plain χ² ball)")
    ema: float = option(0.1, "weight of a new loss in the running estimate ℓ̂_n ← (1 − ema) ℓ̂_n + ema ℓ_n (the authors' code: 0.1)")
    update_every: int = option(100, "updates between best responses q ← argmax over the ball of Σ q_n ℓ̂_n (the paper: once per epoch)")
    mode: str = option("resample", "how q enters training: resample (the paper: languages drawn from q, token-weighted loss) or reweight (drawn from p, loss weights ∝ n_k q_k / p_k)")

    def validate(self) -> None:
        if not (self.rho >= 0 and math.isfinite(self.rho)):
            raise ValueError(f"rho must be a finite number >= 0, got {self.rho}")
        if not (self.temperature > 0 and math.isfinite(self.temperature)):
            raise ValueError(f"temperature must be a finite number > 0 (the baseline must give every language mass), got {self.temperature}")
        if not 0 <= self.min_ratio < 1:
            raise ValueError(f"min_ratio must be in [0, 1), got {self.min_ratio}")
        if not 0 < self.ema <= 1:
            raise ValueError(f"ema must be in (0, 1], got {self.ema}")
        if self.update_every < 1:
            raise ValueError(f"update_every must be >= 1, got {self.update_every}")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got '{self.mode}'")


def chi_square(q: np.ndarray, p: np.ndarray) -> float:
    """``D_χ²(q ‖ p) = ½ Σ_n p_n (q_n / p_n − 1)² = ½ Σ_n (q_n − p_n)² / p_n``."""
    return float(0.5 * np.sum((q - p) ** 2 / p))


def _ratios_at(t: float, losses: np.ndarray, p: np.ndarray, floor: float) -> np.ndarray:
    """``r_n = max(c, 1 + t (ℓ_n − η))`` with the η that makes ``Σ p_n r_n = 1``.

    This maximises ``Σ p r ℓ − (1/2t) Σ p (r − 1)²`` over ``{Σ p r = 1, r ≥ c}`` (its KKT
    conditions), solved exactly: with ``a = 1 + t ℓ`` and ``s = t η`` the languages above the
    floor are the ``k`` largest ``a``, and ``s = (Σ_top-k p a + c (1 − P_k) − 1) / P_k``.
    """
    a = 1.0 + t * losses
    order = np.argsort(-a, kind="stable")
    a_sorted, p_sorted = a[order], p[order]
    mass = np.cumsum(p_sorted)  # P_k
    shift = (np.cumsum(p_sorted * a_sorted) + floor * (1.0 - mass) - 1.0) / mass  # s_k
    next_a = np.append(a_sorted[1:], -np.inf)
    # k is right when the top k are above the floor at s_k and the (k+1)-th is not.
    consistent = np.nonzero((a_sorted - shift > floor) & (next_a - shift <= floor))[0]
    if consistent.size:
        return np.maximum(floor, a - shift[int(consistent[0])])
    # Rounding hid the boundary (a tie at the floor): bisect Σ p max(c, a − s) = 1 instead.
    lo, hi = float(a.min()) - 1.0, float(a.max()) - floor  # the sum is >= 1 at lo, c < 1 at hi
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if float(np.sum(p * np.maximum(floor, a - mid))) >= 1.0:
            lo = mid
        else:
            hi = mid
    return np.maximum(floor, a - lo)


def worst_case_mixture(
    losses: Sequence[float] | np.ndarray, p: Sequence[float] | np.ndarray, rho: float, min_ratio: float = 0.0
) -> np.ndarray:
    """The best response ``q* = argmax_q Σ_n q_n ℓ_n`` over the χ² ball around ``p``.

    The feasible set is ``{q on the simplex : ½ Σ (q_n − p_n)² / p_n ≤ ρ, q_n ≥ c p_n}``
    (``c = min_ratio``; with ``c = 0`` the plain ball of Zhou et al., 2021, whose solution is
    ``q_n ∝ p_n (ℓ_n − η)_+``). Writing ``q = p r``, the maximiser is ``r_n = max(c, 1 + t
    (ℓ_n − η))`` for a multiplier ``1/t`` of the ball and η of the sum (KKT); the divergence
    of that point grows with ``t`` from 0 (``q = p``), so ``t`` is found by bisection until the
    divergence is ρ, approached from below so that the radius is never exceeded. When even
    the linear program without the ball (all the mass above the floor on the largest losses)
    lies inside it, that is the answer.

    Args:
        losses: ``(N,)`` per-language losses ℓ.
        p: ``(N,)`` baseline distribution, every entry > 0.
        rho: the radius ρ ≥ 0.
        min_ratio: the floor c of ``q_n / p_n``, in ``[0, 1)``.

    Returns:
        ``(N,)`` float64 ``q*`` on the simplex.
    """
    ell = np.asarray(losses, dtype=np.float64)
    base = np.asarray(p, dtype=np.float64)
    if ell.shape != base.shape or ell.ndim != 1 or ell.size == 0:
        raise ValueError(f"losses and p must be vectors of one length, got {ell.shape} and {base.shape}")
    if not (np.isfinite(ell).all() and np.isfinite(base).all() and (base > 0).all()):
        raise ValueError("losses must be finite and p finite and > 0")
    if not 0 <= min_ratio < 1:
        raise ValueError(f"min_ratio must be in [0, 1), got {min_ratio}")
    base = base / base.sum()
    # The linear program's solution: floor everywhere, the rest spread evenly (in r) over the argmax.
    top = ell == ell.max()
    r_lp = np.full_like(base, min_ratio)
    r_lp[top] += (1.0 - min_ratio) / base[top].sum()
    if chi_square(base * r_lp, base) <= rho:
        return base * r_lp
    spread = float(ell.max() - ell.min())  # > 0 here: equal losses give q = p, inside any ball
    lo, hi = 0.0, 1.0 / spread
    for _ in range(1100):  # t doubles until past the radius (reached at a finite t: see above)
        if chi_square(base * _ratios_at(hi, ell, base, min_ratio), base) > rho:
            break
        lo, hi = hi, 2.0 * hi
    else:  # rounding kept it a hair inside: that point is feasible and as good as the LP's
        return base * _ratios_at(lo, ell, base, min_ratio)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if chi_square(base * _ratios_at(mid, ell, base, min_ratio), base) <= rho:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-15 * hi:
            break
    q = base * _ratios_at(lo, ell, base, min_ratio)
    return q / q.sum()


class DRO(Weighting):
    """Distributionally robust weighting: the worst-case mixture of languages within a χ² ball
    around the data distribution, re-estimated by iterated best response from the training losses.

    Zhou, Levy, Li, Ghazvininejad and Neubig, EMNLP 2021, "Distributionally Robust Multilingual
    Machine Translation": the objective ``min_θ max_{q : D_χ²(q‖p) ≤ ρ} Σ_n q_n L_n(θ)``
    (with ``D_χ²(q‖p) = ½ Σ_n (q_n − p_n)² / p_n``, the convention of the authors' code) and
    its iterated best response: θ is trained for a while with q fixed, then q is replaced by the exact
    maximiser for the current loss estimates, :func:`worst_case_mixture`.

    The baseline p is temperature sampling (``temperature``; the paper: T = 1). After every
    update the loop hands over the update's per-language training losses
    (:meth:`observe_losses`); each language keeps a running average ``ℓ̂_n`` (``ema``, started
    at the first loss seen). Every ``update_every`` updates, once every language has been seen,
    ``q ← argmax Σ q_n ℓ̂_n`` over the ball with ``q_n ≥ min_ratio · p_n``. The floor is our
    exact form of the authors' code's clamp of ``q/p`` at 0.2 (it clamps and renormalises); it
    keeps every language sampled, so that its loss estimate stays current. In ``resample``
    mode (the paper's) languages are drawn from q and the loss is the token-weighted mean; in
    ``reweight`` mode they are drawn from p and the batch's per-language losses get the
    importance weights ``w_k ∝ n_k q_k / p_k``, an estimate of ``Σ_n q_n L_n``. The paper's
    option of subtracting per-language baseline losses (of a pretrained ERM model) is not
    implemented. Each step is one weighted loss and one backward.
    """

    Params = DROParams
    label = "DRO"
    observes_losses = True

    def __init__(
        self, params: DROParams, langs: Sequence[str], sizes: Mapping[str, int], *, budget: RunBudget | None = None
    ) -> None:
        params.validate()
        super().__init__(params, langs, sizes, budget=budget)
        self.params: DROParams = params
        base = temperature_probs(self.sizes, params.temperature)
        self.baseline = torch.tensor([base[lang] for lang in self.langs], dtype=torch.float64)  # p
        self.q = self.baseline.clone()
        self.loss_ema = torch.full((len(self.langs),), math.nan, dtype=torch.float64)  # ℓ̂_n
        self.next_response = params.update_every  # updates done when the next best response is due
        self.best_responses = 0

    def sampling_probs(self) -> dict[str, float]:
        dist = self.q if self.params.mode == "resample" else self.baseline
        return {lang: float(v) for lang, v in zip(self.langs, dist, strict=True)}

    def loss_weights(self, step: int, langs: Sequence[str], n_tokens: Tensor) -> Tensor:
        if self.params.mode == "resample":
            return token_weights(n_tokens)
        pos = self.positions(langs)
        ratio = (self.q[pos] / self.baseline[pos]).to(n_tokens.device)
        w = n_tokens.double() * ratio
        return (w / w.sum().clamp_min(1e-300)).float()

    def observe_losses(self, step: int, langs: Sequence[str], losses: Tensor, n_tokens: Tensor) -> None:
        """Fold the update's losses into ``ℓ̂``; every ``update_every`` updates, best-respond."""
        pos = self.positions(langs)
        new = losses.detach().double().cpu()
        keep = new.isfinite()
        pos, new = pos[keep], new[keep]
        old = self.loss_ema[pos]
        beta = self.params.ema
        self.loss_ema[pos] = torch.where(old.isnan(), new, (1.0 - beta) * old + beta * new)
        if step + 1 >= self.next_response:
            self.next_response = (step + 1) // self.params.update_every * self.params.update_every + self.params.update_every
            self.best_response()

    def best_response(self) -> None:
        """``q ← argmax`` over the ball of ``Σ q_n ℓ̂_n``; kept as it is until every language
        has a loss estimate."""
        if bool(self.loss_ema.isnan().any()):
            return
        p = self.params
        q = worst_case_mixture(self.loss_ema.numpy(), self.baseline.numpy(), p.rho, p.min_ratio)
        self.q = torch.from_numpy(q)
        self.best_responses += 1

    def state_dict(self) -> dict[str, Any]:
        return {
            "langs": list(self.langs),
            "q": self.q.clone(),
            "loss_ema": self.loss_ema.clone(),
            "next_response": self.next_response,
            "best_responses": self.best_responses,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        check_state_keys(state, ["langs", "q", "loss_ema", "next_response", "best_responses"], "dro")
        check_state_langs(state, self.langs, "dro")
        self.q = state["q"].detach().double().cpu().clone()
        self.loss_ema = state["loss_ema"].detach().double().cpu().clone()
        self.next_response = int(state["next_response"])
        self.best_responses = int(state["best_responses"])

    def log_values(self) -> dict[str, float]:
        """``q`` per language, its χ² divergence from p, and the robust loss ``Σ q ℓ̂``."""
        out = {f"dro_q/{lang}": float(v) for lang, v in zip(self.langs, self.q, strict=True)}
        out["dro/chi_square"] = chi_square(self.q.numpy(), self.baseline.numpy())
        out["dro/best_responses"] = float(self.best_responses)
        if not bool(self.loss_ema.isnan().any()):
            out["dro/robust_loss"] = float(self.q @ self.loss_ema)
        return out
