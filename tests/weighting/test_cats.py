"""CATS (Eq. 3-4, Algorithm 1) against independent computations."""

from __future__ import annotations

import io

import pytest
import torch

from catsmt.weighting.base import TaskGradients
from catsmt.weighting.cats import CATS, CATSParams, curvature, lagrangian_alpha_grad, meta_interval

LANGS = ["aze", "bel", "rus", "tur"]
SIZES = {"aze": 100, "bel": 100, "rus": 1000, "tur": 1000}


def make(**kw: object) -> CATS:
    return CATS(CATSParams(**kw), LANGS, SIZES)  # type: ignore[arg-type]


def tasks(langs: list[str], grads: torch.Tensor, losses: list[float]) -> TaskGradients:
    return TaskGradients(
        langs=langs,
        losses=torch.tensor(losses),
        n_tokens=torch.full((len(langs),), 10.0),
        grads=grads,
    )


def test_curvature_term_equals_brute_force_norm_with_cross_terms() -> None:
    g = torch.randn(3, 50, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    alpha = torch.tensor([0.2, 0.5, 0.3], dtype=torch.float64)
    brute = (alpha[:, None] * g).sum(0).pow(2).sum()
    assert torch.allclose(curvature(alpha, g @ g.T), brute)
    no_cross = (alpha**2 * g.pow(2).sum(1)).sum()
    assert not torch.allclose(curvature(alpha, g @ g.T), no_cross)  # cross terms matter


def test_alpha_gradient_matches_autograd_of_eq4() -> None:
    gen = torch.Generator().manual_seed(1)
    g = torch.randn(4, 30, generator=gen, dtype=torch.float64)
    losses = torch.rand(4, generator=gen, dtype=torch.float64) * 3
    alpha = torch.rand(4, generator=gen, dtype=torch.float64).requires_grad_()
    lam_c, lam_s, eps, eps_a = 0.7, 0.3, 0.05, 0.01
    lam_n = torch.rand(4, generator=gen, dtype=torch.float64)
    weighted = (alpha[:, None] * g).sum(0)
    lagrangian = (
        (alpha * losses).sum()
        - lam_c * (eps - weighted.pow(2).sum())
        + lam_s * (alpha.sum() - 1) ** 2
        - (lam_n * (alpha - eps_a)).sum()
    )
    (auto,) = torch.autograd.grad(lagrangian, alpha)
    ours = lagrangian_alpha_grad(alpha.detach(), losses, g @ g.T, lam_c, lam_s, lam_n, float(alpha.detach().sum()))
    assert torch.allclose(auto, ours)


def test_alpha_starts_on_simplex_and_multipliers_at_zero() -> None:
    m = make()
    assert torch.allclose(m.alpha, torch.full((4,), 0.25, dtype=torch.float64))
    assert m.lambda_c == 0 and m.lambda_s == 0 and bool((m.lambda_n == 0).all())


def test_multipliers_ascend_and_stay_non_negative() -> None:
    m = make(normalize=False, curvature_bound=0.0, alpha_min=0.3, alpha_lr=0.0, multiplier_lr=1.0)
    g = torch.eye(4, 8)
    m.meta_update(LANGS, torch.ones(4), g @ g.T)
    # curvature 4 * 0.25^2 = 0.25 > eps = 0 -> lambda_c rises by exactly that
    assert m.lambda_c == pytest.approx(0.25)
    # alpha_n = 0.25 < alpha_min = 0.3 -> lambda_n rises by 0.05
    assert torch.allclose(m.lambda_n, torch.full((4,), 0.05, dtype=torch.float64))
    m2 = make(normalize=False, curvature_bound=10.0, alpha_min=0.0, alpha_lr=0.0, multiplier_lr=1.0)
    m2.meta_update(LANGS, torch.ones(4), g @ g.T)
    assert m2.lambda_c == 0.0  # would be negative: projected to 0
    assert bool((m2.lambda_n == 0).all())


def test_alpha_descends_the_lagrangian() -> None:
    m = make(normalize=False, alpha_lr=0.01, multiplier_lr=0.0)
    m.lambda_c = 1.0
    g = torch.diag(torch.tensor([1.0, 2.0, 3.0, 4.0]))
    before = m.alpha.clone()
    losses = torch.tensor([1.0, 1.0, 1.0, 1.0])
    m.meta_update(LANGS, losses, g @ g.T)
    # larger gradient norm -> larger (G alpha)_n -> alpha_n decreases more
    delta = m.alpha - before
    assert bool((delta[1:] < delta[:-1]).all())


def test_large_lambda_c_two_tasks_reaches_mgda_min_norm() -> None:
    g1 = torch.tensor([1.0, 0.0])
    g2 = torch.tensor([0.5, 2.0])
    grads = torch.stack([g1, g2])
    # closed-form min-norm point of the segment [g1, g2]: gamma*g1 + (1-gamma)*g2
    gamma = float(((g2 - g1) @ g2) / (g1 - g2).pow(2).sum())
    m = CATS(CATSParams(normalize=False, alpha_lr=0.1, multiplier_lr=0.5, curvature_bound=0.0), ["a", "b"], {"a": 1, "b": 1})
    m.lambda_c = 50.0
    for _ in range(4000):
        m.meta_update(["a", "b"], torch.tensor([1.0, 1.0]), grads @ grads.T)
    ratio = float(m.alpha[0] / m.alpha.sum())
    assert ratio == pytest.approx(gamma, abs=0.02)


def test_non_meta_steps_use_one_weighted_loss_and_batch_alpha() -> None:
    m = make(update_every=[[0, 10]])
    assert m.needs_task_grads(0) and not m.needs_task_grads(1) and m.needs_task_grads(10)
    w = m.loss_weights(3, ["aze", "rus"], torch.tensor([5.0, 50.0]))
    assert torch.allclose(w, torch.tensor([0.5, 0.5]))  # alpha renormalised over the batch, not tokens


def test_schedule_follows_the_paper() -> None:
    sched = [[8000, 10], [0, 1000]]
    assert meta_interval(sched, 0) == 10
    assert meta_interval(sched, 7999) == 10
    assert meta_interval(sched, 8000) == 1000


def test_combine_uses_alpha_before_the_meta_update() -> None:
    m = make(normalize=False, alpha_lr=0.1)
    g = torch.randn(2, 6, generator=torch.Generator().manual_seed(3))
    update = m.combine(0, tasks(["aze", "rus"], g, [3.0, 1.0]))
    assert torch.allclose(update, 0.5 * g[0] + 0.5 * g[1])
    assert not torch.allclose(m.alpha, torch.full((4,), 0.25, dtype=torch.float64))


def test_state_round_trips_through_a_safe_checkpoint() -> None:
    m = make()
    g = torch.randn(3, 5, generator=torch.Generator().manual_seed(4))
    for _ in range(3):
        m.combine(0, tasks(["aze", "bel", "tur"], g, [2.0, 3.0, 4.0]))
    buf = io.BytesIO()
    torch.save(m.state_dict(), buf)
    buf.seek(0)
    restored = make()
    restored.load_state_dict(torch.load(buf, weights_only=True))
    assert torch.equal(restored.alpha, m.alpha) and restored.lambda_c == m.lambda_c
    a = m.combine(0, tasks(["aze", "rus"], g[:2], [1.0, 2.0]))
    b = restored.combine(0, tasks(["aze", "rus"], g[:2], [1.0, 2.0]))
    assert torch.equal(a, b) and torch.equal(m.alpha, restored.alpha)


def test_wrong_state_is_refused_clearly() -> None:
    with pytest.raises(ValueError, match="cats"):
        make().load_state_dict({"weights": torch.ones(4)})


def test_centred_step_moves_weight_between_batch_languages_only() -> None:
    m = make(normalize=True, alpha_lr=0.05)
    g = torch.randn(2, 10, generator=torch.Generator().manual_seed(5))
    m.meta_update(["aze", "rus"], torch.tensor([2.0, 4.0]), g @ g.T)
    assert float(m.alpha.sum()) == pytest.approx(1.0)
    assert float(m.alpha[m.index["bel"]]) == pytest.approx(0.25)  # not in the batch: untouched
    assert m.alpha[m.index["aze"]] > m.alpha[m.index["rus"]]  # lower loss gains weight (Eq. 4's loss term)


def test_literal_penalty_form_drains_alpha_of_the_batch() -> None:
    """Without the projection, every L_n > 0 lowers all batch alphas at once (why we centre)."""
    m = make(normalize=True, center=False, alpha_lr=0.1)
    g = torch.eye(4, 8)
    m.meta_update(LANGS, torch.tensor([2.0, 3.0, 4.0, 5.0]), g @ g.T)
    assert float(m.alpha.sum()) < 0.7
