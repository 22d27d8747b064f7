"""Gradient Vaccine: conflicting pairs are raised to their target, the others left alone."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from catsmt.weighting.base import TaskGradients, token_weights
from catsmt.weighting.gradvac import GradVac, GradVacParams, vaccinate

LANGS = ["aze", "bel", "rus"]
SIZES = {"aze": 10, "bel": 20, "rus": 30}


def make(**kw: object) -> GradVac:
    return GradVac(GradVacParams(**kw), LANGS, SIZES)  # type: ignore[arg-type]


def cos(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(a @ b / (a.norm() * b.norm()))


def pair(cosine: float, norm1: float = 1.0, norm2: float = 2.0) -> torch.Tensor:
    """Two 3-d gradients with a given cosine similarity."""
    g1 = torch.tensor([norm1, 0.0, 0.0], dtype=torch.float64)
    g2 = norm2 * torch.tensor([cosine, math.sqrt(1 - cosine**2), 0.0], dtype=torch.float64)
    return torch.stack([g1, g2])


def test_vaccine_raises_the_cosine_exactly_to_the_target() -> None:
    for target, start in [(0.5, 0.1), (0.3, -0.6), (-0.2, -0.7), (0.9, 0.0)]:
        g = pair(start)
        targets = torch.full((2, 2), target, dtype=torch.float64)
        coef, observed = vaccinate(g @ g.T, targets, [[1], [0]])
        vaccinated = coef @ g
        assert cos(vaccinated[0], g[1]) == pytest.approx(target, abs=1e-9)
        assert cos(vaccinated[1], g[0]) == pytest.approx(target, abs=1e-9)
        assert float(observed[0, 1]) == pytest.approx(start)


def paper_vaccine(gi: torch.Tensor, gj: torch.Tensor, target: float) -> torch.Tensor:
    """Wang et al. (2021): g_i + ||g_i|| (φ̂ sqrt(1-φ²) - φ sqrt(1-φ̂²)) / (||g_j|| sqrt(1-φ̂²)) g_j."""
    phi = cos(gi, gj)
    root = math.sqrt(1 - target**2)
    return gi + gi.norm() * (target * math.sqrt(1 - phi**2) - phi * root) / (gj.norm() * root) * gj


def test_vaccine_matches_the_papers_formula() -> None:
    gen = torch.Generator().manual_seed(0)
    g = torch.randn(2, 10, generator=gen, dtype=torch.float64)
    g[1] -= g[0]
    target = 0.25
    assert cos(g[0], g[1]) < target
    coef, _ = vaccinate(g @ g.T, torch.full((2, 2), target, dtype=torch.float64), [[1], [0]])
    assert torch.allclose((coef @ g)[0], paper_vaccine(g[0], g[1], target))


def test_pairs_above_their_target_are_left_unchanged() -> None:
    g = pair(0.6)
    coef, _ = vaccinate(g @ g.T, torch.full((2, 2), 0.5, dtype=torch.float64), [[1], [0]])
    assert torch.equal(coef, torch.eye(2, dtype=torch.float64))
    m = make()  # targets start at 0: positively aligned gradients pass through
    tasks = TaskGradients(langs=LANGS[:2], losses=torch.ones(2), n_tokens=torch.tensor([1.0, 3.0]), grads=g.float())
    assert torch.allclose(m.combine(0, tasks), token_weights(tasks.n_tokens) @ g.float())


def _np_vaccine(gi: np.ndarray, gj: np.ndarray, target: float) -> np.ndarray:
    """Wang et al. (2021), Eq. 5-6 in NumPy: raise cos(g_i, g_j) to the target when below it."""
    phi = gi @ gj / (np.linalg.norm(gi) * np.linalg.norm(gj))
    if phi >= target:
        return gi
    coef = np.linalg.norm(gi) * (target * np.sqrt(1 - phi**2) - phi * np.sqrt(1 - target**2))
    return gi + coef / (np.linalg.norm(gj) * np.sqrt(1 - target**2)) * gj


@pytest.mark.parametrize("k", [3, 4, 6])
def test_vaccine_at_k_tasks_matches_a_sequential_numpy_implementation(k: int) -> None:
    """K ≥ 3: each g_i' starts at g_i and is vaccinated against the *original* g_j in the
    given order, with per-pair targets; written here in NumPy from the paper, sharing no
    code with catsmt."""
    rng = np.random.default_rng(k)
    for _ in range(20):
        g = rng.normal(size=(k, 8))
        g[1:] -= 0.8 * g[0]  # many conflicts
        targets = rng.uniform(-0.3, 0.6, size=(k, k))
        orders = [list(rng.permutation([j for j in range(k) if j != i])) for i in range(k)]
        expected = np.stack([g[i] for i in range(k)])
        for i in range(k):
            for j in orders[i]:
                expected[i] = _np_vaccine(expected[i], g[j], float(targets[i, j]))
        coef, _ = vaccinate(torch.tensor(g @ g.T), torch.tensor(targets), orders)
        np.testing.assert_allclose((coef.numpy() @ g), expected, rtol=1e-9, atol=1e-9)


def test_zero_targets_project_out_every_conflict_like_pcgrad() -> None:
    """With targets 0 the vaccine is a projection: after the i-th gradient has been treated
    against j, their dot product is >= 0 (checked in NumPy from the raw vectors)."""
    g = np.random.default_rng(1).normal(size=(3, 5))
    orders = [[1, 2], [2, 0], [0, 1]]
    coef, _ = vaccinate(torch.tensor(g @ g.T), torch.zeros(3, 3, dtype=torch.float64), orders)
    out = coef.numpy() @ g
    for i in range(3):
        assert out[i] @ g[orders[i][-1]] >= -1e-9  # the last one visited is never conflicting


def test_targets_follow_the_ema_of_observed_similarity() -> None:
    m = make(beta=0.1)
    g = pair(0.4).float()
    tasks = TaskGradients(langs=["rus", "aze"], losses=torch.ones(2), n_tokens=torch.ones(2), grads=g)
    expected = 0.0
    for step in range(20):
        m.combine(step, tasks)
        expected = 0.9 * expected + 0.1 * 0.4  # cos stays 0.4 >= target: no vaccine
        rus, aze = LANGS.index("rus"), LANGS.index("aze")
        assert float(m.targets[rus, aze]) == pytest.approx(expected, abs=1e-6)
        assert float(m.targets[aze, rus]) == pytest.approx(expected, abs=1e-6)
    assert float(m.targets[LANGS.index("bel")].abs().sum()) == 0.0  # bel never seen
    assert m.log_values()["phi/aze"] == pytest.approx(expected / 2, abs=1e-6)


def test_after_the_target_rises_conflicts_are_vaccinated_towards_it() -> None:
    m = make(beta=0.5)
    aligned = TaskGradients(langs=["aze", "bel"], losses=torch.ones(2), n_tokens=torch.ones(2), grads=pair(0.8).float())
    m.combine(0, aligned)  # cos 0.8 >= target 0: unchanged; targets -> 0.5 * 0.8 = 0.4
    assert float(m.targets[0, 1]) == pytest.approx(0.4, abs=1e-6)
    g = pair(0.1)
    tasks = TaskGradients(langs=["aze", "bel"], losses=torch.ones(2), n_tokens=torch.tensor([1.0, 3.0]), grads=g.float())
    out = m.combine(1, tasks)
    expected = 0.25 * paper_vaccine(g[0], g[1], 0.4) + 0.75 * paper_vaccine(g[1], g[0], 0.4)
    assert torch.allclose(out.double(), expected, atol=1e-5)
    assert float(m.targets[0, 1]) == pytest.approx(0.5 * 0.4 + 0.5 * 0.1, abs=1e-6)


def test_unknown_language_and_bad_beta_are_named() -> None:
    with pytest.raises(ValueError, match="xxx"):
        make().combine(0, TaskGradients(langs=["xxx"], losses=torch.ones(1), n_tokens=torch.ones(1), grads=torch.ones(1, 3)))
    with pytest.raises(ValueError, match="beta"):
        make(beta=1.5)
