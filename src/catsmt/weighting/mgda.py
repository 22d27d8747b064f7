"""MGDA: the min-norm point in the convex hull of the task gradients (Sener & Koltun, 2018)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from catsmt.config_fields import option
from catsmt.weighting.base import RunBudget, TaskGradients, Weighting, temperature_option

NORMALIZATIONS = ("none", "l2", "loss")


@dataclass
class MGDAParams:
    temperature: float = temperature_option()
    normalization: str = option("none", "gradient normalisation before the min-norm search: none, l2 (g_k/||g_k||) or loss (g_k/L_k)")
    max_iter: int = option(250, "most Frank-Wolfe iterations of the min-norm solver (more than 2 tasks)")
    tol: float = option(1e-10, "stop Frank-Wolfe when the duality gap is below tol * max_k ||g_k||²")

    def validate(self) -> None:
        if self.normalization not in NORMALIZATIONS:
            raise ValueError(
                f"normalization must be one of {', '.join(NORMALIZATIONS)}, got '{self.normalization}'"
            )
        if self.max_iter < 1:
            raise ValueError(f"max_iter must be >= 1, got {self.max_iter}")
        if not self.tol >= 0:
            raise ValueError(f"tol must be >= 0, got {self.tol}")


def _two_task_gamma(g11: Tensor, g12: Tensor, g22: Tensor) -> Tensor:
    """Weight ``γ`` on ``a`` of ``argmin_γ ||γ a + (1-γ) b||`` from ``a·a, a·b, b·b``.

    Sener & Koltun, Algorithm 1: ``γ = clamp(((b - a)·b) / ||a - b||², 0, 1)``.
    """
    denom = g11 - 2 * g12 + g22
    if denom <= 1e-20 * max(float(g11), float(g22), 1e-300):
        return torch.tensor(0.5, dtype=g11.dtype)  # a == b: every point of the segment is minimal
    return ((g22 - g12) / denom).clamp(0.0, 1.0)


def _affine_min(gram: np.ndarray) -> np.ndarray:
    """Weights ``μ`` (``Σ μ = 1``, any sign) of the min-norm point of the affine hull of the
    vectors behind ``gram``: the KKT system ``[[2G, 1], [1ᵀ, 0]] [μ; λ] = [0; 1]``."""
    k = gram.shape[0]
    kkt = np.zeros((k + 1, k + 1))
    kkt[:k, :k] = 2 * gram
    kkt[:k, k] = 1.0
    kkt[k, :k] = 1.0
    rhs = np.zeros(k + 1)
    rhs[k] = 1.0
    solution, *_ = np.linalg.lstsq(kkt, rhs, rcond=None)
    return np.asarray(solution[:k])


def min_norm_weights(gram: Tensor, max_iter: int = 250, tol: float = 1e-10) -> Tensor:
    """Convex weights ``c`` (``c ≥ 0``, ``Σ c = 1``) minimising ``||Σ_k c_k g_k||²``.

    Works on the Gram matrix ``G_ij = g_i · g_j`` only (Sener & Koltun, 2018, Sec. 3). One task:
    ``c = [1]``; two tasks: the closed form of their Algorithm 1; more: Frank-Wolfe (their
    Algorithm 2) in its *fully corrective* form, Wolfe's (1976) min-norm-point algorithm:
    each iteration adds the Frank-Wolfe vertex ``argmin_r θ·g_r`` to the active set and
    re-minimises exactly over the active set's convex hull. Plain Frank-Wolfe converges at
    ``O(1/t)`` and stalls on ill-conditioned Gram matrices (nearly opposite gradients); this
    form is exact after finitely many iterations.

    Args:
        gram: ``(K, K)`` symmetric positive semi-definite matrix.
        max_iter: most Frank-Wolfe iterations (vertices added).
        tol: stop when the Frank-Wolfe duality gap ``θ·θ - min_r θ·g_r`` (an upper bound on
            ``||θ||² - min``) is below ``tol * max_k ||g_k||²``.

    Returns:
        ``(K,)`` float64 weights on the simplex.
    """
    if gram.dim() != 2 or gram.shape[0] != gram.shape[1] or gram.shape[0] == 0:
        raise ValueError(f"gram must be a non-empty square matrix, got shape {tuple(gram.shape)}")
    g = gram.detach().double().cpu()
    k = g.shape[0]
    if k == 1:
        return torch.ones(1, dtype=torch.float64)
    if k == 2:
        gamma = _two_task_gamma(g[0, 0], g[0, 1], g[1, 1])
        return torch.stack([gamma, 1 - gamma])
    G = g.numpy()  # small K x K work: numpy avoids per-op tensor overhead
    scale = max(float(np.diag(G).max()), 1e-300)
    eps = 1e-12
    start = int(np.argmin(np.diag(G)))
    c = np.zeros(k)
    c[start] = 1.0
    active = [start]
    for _ in range(max_iter):
        gc = G @ c  # (K,) θ·g_r with θ = Σ c g
        t = int(np.argmin(gc))  # the Frank-Wolfe vertex
        if c @ gc - gc[t] <= tol * scale or t in active:
            break
        active.append(t)
        for _minor in range(len(active)):
            idx = np.array(active)
            mu = _affine_min(G[np.ix_(idx, idx)])
            ca = c[idx]
            inside = bool((mu > eps).all())
            if inside:
                ca = mu
            else:
                # Move from c towards mu until the first weight reaches zero; it leaves the set.
                shrinking = mu <= eps
                step = np.min(ca[shrinking] / np.maximum(ca[shrinking] - mu[shrinking], eps))
                ca = ca + min(max(step, 0.0), 1.0) * (mu - ca)
            c[:] = 0.0
            c[idx] = np.maximum(ca, 0.0)
            active = [i for i in active if c[i] > eps]
            if inside:
                break
        c = c / c.sum()
    return torch.from_numpy(c)


class MGDA(Weighting):
    """MGDA: the min-norm point of the convex hull of the per-language gradients.

    Sener & Koltun, NeurIPS 2018, "Multi-Task Learning as Multi-Objective Optimization".

    Every step, the weights ``c`` of the min-norm point of the convex hull of the task
    gradients (over all parameters, not the MGDA-UB shared-representation bound) are found
    by :func:`min_norm_weights` on the Gram matrix of the optionally normalised gradients
    (``l2``: ``g_k/||g_k||``, ``loss``: ``g_k/L_k``, as offered by the authors' released
    code); the update is ``Σ_k c_k g_k`` with the *raw* gradients ``g_k``. Since ``Σ c_k = 1`` this is a convex combination of the
    task gradients, the same scale as the token-weighted mean gradient of the other methods
    (we do not multiply by K). With ``normalization = none`` it is exactly the min-norm point,
    a common descent direction of all tasks (or zero at a Pareto-stationary point).

    Languages are sampled by temperature (``temperature``).
    """

    Params = MGDAParams
    label = "MGDA"

    def __init__(
        self, params: MGDAParams, langs: Sequence[str], sizes: Mapping[str, int], *, budget: RunBudget | None = None
    ) -> None:
        params.validate()
        super().__init__(params, langs, sizes, budget=budget)
        self.params: MGDAParams = params
        self._last: dict[str, float] = {}

    def needs_task_grads(self, step: int) -> bool:
        return True

    def weights(self, tasks: TaskGradients) -> Tensor:
        """``(K,)`` float64 min-norm weights ``c`` of ``tasks`` (after normalisation)."""
        gram = tasks.gram().cpu()
        mode = self.params.normalization
        if mode == "l2":
            scale = gram.diagonal().sqrt()
        elif mode == "loss":
            scale = tasks.losses.detach().double().cpu()
        else:
            scale = torch.ones(gram.shape[0], dtype=torch.float64)
        scale = torch.where(scale > 0, scale, torch.ones_like(scale))
        gram = gram / (scale[:, None] * scale[None, :])
        return min_norm_weights(gram, self.params.max_iter, self.params.tol)

    def combine(self, step: int, tasks: TaskGradients) -> Tensor:
        c = self.weights(tasks)
        self._last = {lang: float(v) for lang, v in zip(tasks.langs, c, strict=True)}
        return c.to(tasks.grads) @ tasks.grads

    def state_dict(self) -> dict[str, Any]:
        return {"last": dict(self._last)}  # only what is logged: the solver keeps no state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._last = {str(k): float(v) for k, v in state.get("last", {}).items()}

    def log_values(self) -> dict[str, float]:
        return {f"mgda/{lang}": v for lang, v in self._last.items()}
