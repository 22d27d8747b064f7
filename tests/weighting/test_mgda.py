"""MGDA's min-norm solver against the closed form and a brute-force grid search."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from catsmt.weighting.base import TaskGradients
from catsmt.weighting.mgda import MGDA, MGDAParams, min_norm_weights

LANGS = ["aze", "bel", "rus"]
SIZES = {"aze": 10, "bel": 20, "rus": 30}


def make(**kw: object) -> MGDA:
    return MGDA(MGDAParams(**kw), LANGS, SIZES)  # type: ignore[arg-type]


def test_two_tasks_match_the_closed_form() -> None:
    for seed in range(50):
        gen = torch.Generator().manual_seed(seed)
        g = torch.randn(2, 7, generator=gen, dtype=torch.float64)
        if seed % 3 == 0:
            g[1] -= 1.5 * g[0]  # strongly conflicting
        g1, g2 = g
        gamma = float((((g2 - g1) @ g2) / (g1 - g2).pow(2).sum()).clamp(0, 1))
        c = min_norm_weights(g @ g.T)
        assert c.tolist() == pytest.approx([gamma, 1 - gamma], abs=1e-12)


def test_three_tasks_match_a_grid_search() -> None:
    n = 120
    i, j = torch.meshgrid(torch.arange(n + 1), torch.arange(n + 1), indexing="ij")
    keep = (i + j) <= n
    grid = torch.stack([i[keep], j[keep], n - i[keep] - j[keep]], dim=1).double() / n  # (M, 3)
    for seed in range(20):
        gen = torch.Generator().manual_seed(seed)
        g = torch.randn(3, 4, generator=gen, dtype=torch.float64)
        if seed % 2:
            g[1] = -2 * g[0] + 0.1 * g[1]  # ill-conditioned: nearly opposite gradients
        gram = g @ g.T
        c = min_norm_weights(gram)
        assert float(c.min()) >= 0 and float(c.sum()) == pytest.approx(1.0)
        ours = float(c @ gram @ c)
        brute = float(((grid @ gram) * grid).sum(1).min())
        scale = float(gram.diagonal().max())
        assert ours <= brute + 1e-12 * scale  # never worse than any grid point
        assert ours == pytest.approx(brute, abs=2e-3 * scale)


def test_many_tasks_satisfy_the_optimality_condition() -> None:
    # At the min-norm point θ, every g_r has θ·g_r >= θ·θ (otherwise moving towards g_r helps).
    for seed in range(30):
        gen = torch.Generator().manual_seed(seed)
        k = 3 + seed % 8
        g = torch.randn(k, 12, generator=gen, dtype=torch.float64) + (seed % 3) * torch.randn(12, generator=gen, dtype=torch.float64)
        gram = g @ g.T
        c = min_norm_weights(gram)
        gc = gram @ c
        assert float(gc.min()) >= float(c @ gc) - 1e-9 * float(gram.diagonal().max())


def test_aligned_tasks_give_a_common_descent_direction() -> None:
    gen = torch.Generator().manual_seed(0)
    g = torch.randn(3, 20, generator=gen) + 3 * torch.randn(20, generator=gen)
    out = make().combine(0, TaskGradients(langs=LANGS, losses=torch.ones(3), n_tokens=torch.ones(3), grads=g))
    assert bool(((g @ out) >= -1e-6).all())


def _simplex_grid(n: int) -> np.ndarray:
    i, j = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij")
    keep = (i + j) <= n
    return np.stack([i[keep], j[keep], n - i[keep] - j[keep]], axis=1) / n  # (M, 3)


@pytest.mark.parametrize("mode", ["none", "l2", "loss"])
def test_combine_is_the_min_norm_combination_found_by_grid_search(mode: str) -> None:
    """An independent brute force in NumPy: search the simplex for the c that minimises
    ||Σ c_k g_k / s_k|| (s_k = 1, ||g_k|| or L_k as the mode says), then the update must be
    Σ c_k g_k with the raw gradients."""
    grid = _simplex_grid(300)
    rng = np.random.default_rng(7)
    for _ in range(10):
        g = rng.normal(size=(3, 9))
        g[0] *= 10.0  # very different scales
        losses = rng.uniform(0.5, 4.0, size=3)
        s = {"none": np.ones(3), "l2": np.linalg.norm(g, axis=1), "loss": losses}[mode]
        scaled = g / s[:, None]
        norms = np.linalg.norm(grid @ scaled, axis=1)
        c = grid[int(norms.argmin())]
        expected = c @ g
        tasks = TaskGradients(langs=LANGS, losses=torch.tensor(losses), n_tokens=torch.ones(3), grads=torch.tensor(g))
        out = make(normalization=mode).combine(0, tasks).numpy()
        assert np.linalg.norm(out - expected) <= 0.02 * np.linalg.norm(g, axis=1).max()
        ours = np.linalg.norm((make(normalization=mode).weights(tasks).numpy()) @ scaled)
        assert ours <= norms.min() + 1e-9  # never worse than the best grid point


def test_every_step_needs_task_gradients_and_bad_options_are_named() -> None:
    assert all(make().needs_task_grads(s) for s in range(5))
    with pytest.raises(ValueError, match="normalization"):
        make(normalization="loss+")
    with pytest.raises(ValueError, match="square"):
        min_norm_weights(torch.ones(2, 3))
