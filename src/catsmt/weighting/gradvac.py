"""Gradient Vaccine: steer pairwise gradient similarity towards an EMA target (Wang et al., 2021)."""

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
    temperature_option,
    token_weights,
)
from catsmt.weighting.pcgrad import random_orders


@dataclass
class GradVacParams:
    temperature: float = temperature_option()
    beta: float = option(0.01, "EMA decay β of the similarity targets: φ̂ ← (1-β) φ̂ + β φ (the paper: 1e-2)")
    seed: int = option(1, "seed of the random order in which each gradient is vaccinated against the others")

    def validate(self) -> None:
        if not 0.0 <= self.beta <= 1.0:
            raise ValueError(f"beta must be in [0, 1], got {self.beta}")


#: Targets are kept inside (-1, 1) so that ``sqrt(1 - φ̂²)`` never divides by zero.
_MAX_TARGET = 1.0 - 1e-6


def vaccinate(
    gram: Tensor, targets: Tensor, orders: Sequence[Sequence[int]]
) -> tuple[Tensor, Tensor]:
    """Gradient Vaccine's update as coefficients on the original gradients.

    For each task ``i``, start from ``g_i' = g_i``; for each ``j`` in ``orders[i]`` compute
    ``φ_ij = cos(g_i', g_j)`` and, if ``φ_ij < φ̂_ij`` (the target), set (Wang et al., 2021,
    Algorithm 1)::

        g_i' ← g_i' + ||g_i'|| (φ̂_ij sqrt(1 - φ_ij²) - φ_ij sqrt(1 - φ̂_ij²))
                      / (||g_j|| sqrt(1 - φ̂_ij²)) · g_j

    after which ``cos(g_i', g_j) = φ̂_ij`` exactly. With all targets 0 this is PCGrad.

    Args:
        gram: ``(K, K)`` Gram matrix of the batch's gradients.
        targets: ``(K, K)`` targets ``φ̂_ij`` for the batch's pairs (diagonal unused).
        orders: for each ``i``, the order in which the other tasks are visited.

    Returns:
        ``C`` ``(K, K)`` float64 with ``g_i' = Σ_m C[i, m] g_m``, and ``(K, K)`` the cosines
        ``φ_ij`` observed before each pair's update (diagonal 1; NaN where a gradient is
        zero), for the EMA of the targets.
    """
    g = gram.detach().double().cpu()
    phi_hat = targets.detach().double().cpu().clamp(-_MAX_TARGET, _MAX_TARGET)
    k = g.shape[0]
    coef = torch.eye(k, dtype=torch.float64)
    observed = torch.eye(k, dtype=torch.float64)
    for i in range(k):
        row = coef[i]
        for j in orders[i]:
            norm_j = math.sqrt(max(float(g[j, j]), 0.0))
            norm_i = math.sqrt(max(float(row @ g @ row), 0.0))  # ||g_i'||
            if norm_i == 0.0 or norm_j == 0.0:
                observed[i, j] = math.nan  # no direction, no similarity
                continue
            phi = max(-1.0, min(1.0, float(row @ g[:, j]) / (norm_i * norm_j)))
            observed[i, j] = phi
            target = float(phi_hat[i, j])
            if phi < target:
                root_target = math.sqrt(1.0 - target**2)
                step = norm_i * (target * math.sqrt(1.0 - phi**2) - phi * root_target)
                row[j] += step / (norm_j * root_target)
    return coef, observed


class GradVac(Weighting):
    """Gradient Vaccine: pull each pair of language gradients towards an EMA similarity target.

    Wang et al., ICLR 2021, "Gradient Vaccine: Investigating and Improving Multi-task
    Optimization in Massively Multilingual Models".

    Keeps an EMA target ``φ̂_ij`` of the cosine similarity of every ordered pair of languages
    (an ``(N, N)`` matrix over all languages, initialised to 0, indexed by ``langs``). Every
    step, for each language ``i`` of the batch and each other ``j`` in a random (seeded,
    checkpointed) order, a gradient less similar than its target is moved towards it
    (:func:`vaccinate`), and then the EMA ``φ̂_ij ← (1-β) φ̂_ij + β φ_ij``. Whole-model
    granularity: one similarity per pair over all parameters (the paper also studies
    per-layer targets; not implemented).

    The update is the token-weighted sum ``Σ_k (n_k / Σ n) g_k'``, so where nothing is
    vaccinated it equals the token-weighted mean gradient (same choice as :class:`PCGrad`).
    """

    Params = GradVacParams
    label = "GradVac"

    def __init__(
        self, params: GradVacParams, langs: Sequence[str], sizes: Mapping[str, int], *, budget: RunBudget | None = None
    ) -> None:
        params.validate()
        super().__init__(params, langs, sizes, budget=budget)
        self.params: GradVacParams = params
        self.generator = torch.Generator().manual_seed(params.seed)
        n = len(self.langs)
        self.targets = torch.zeros(n, n, dtype=torch.float64)  # φ̂_ij, rows and columns = langs


    def needs_task_grads(self, step: int) -> bool:
        return True

    def combine(self, step: int, tasks: TaskGradients) -> Tensor:
        pos = self.positions(tasks.langs)
        gram = tasks.gram().cpu()
        k = gram.shape[0]
        targets = self.targets[pos][:, pos]
        coef, observed = vaccinate(gram, targets, random_orders(k, self.generator))
        beta = self.params.beta
        seen = ~torch.eye(k, dtype=torch.bool) & observed.isfinite()
        updated = torch.where(seen, (1 - beta) * targets + beta * observed, targets)
        self.targets[pos[:, None], pos[None, :]] = updated
        w = token_weights(tasks.n_tokens).double().cpu()
        return (w @ coef).to(tasks.grads) @ tasks.grads

    def state_dict(self) -> dict[str, Any]:
        return {
            "langs": list(self.langs),
            "targets": self.targets.clone(),
            "generator": self.generator.get_state(),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        check_state_keys(state, ["langs", "targets", "generator"], "gradvac")
        check_state_langs(state, self.langs, "gradvac")
        self.targets = state["targets"].detach().double().cpu().clone()
        self.generator.set_state(state["generator"])

    def log_values(self) -> dict[str, float]:
        """Mean target similarity of each language to the others, ``phi/<lang>``."""
        n = len(self.langs)
        if n < 2:
            return {}
        means = (self.targets.sum(1) - self.targets.diagonal()) / (n - 1)
        return {f"phi/{lang}": float(v) for lang, v in zip(self.langs, means, strict=True)}
