"""CATS (Eq. 3-4, Algorithm 1) against an independent NumPy implementation written here from
the paper's equations, invariants over thousands of random meta updates, and the directions
that Eq. 4 implies."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch

from catsmt.weighting.base import TaskGradients
from catsmt.weighting.cats import (
    CATS,
    CATSParams,
    curvature,
    lagrangian_alpha_grad,
    meta_interval,
    project_capped_simplex,
)

LANGS = ["aze", "bel", "rus", "tur"]
SIZES = {"aze": 100, "bel": 100, "rus": 1000, "tur": 1000}
LANGS8 = ["aze", "bel", "glg", "ukr", "tur", "rus", "por", "ces"]


def make(langs: list[str] = LANGS, **kw: object) -> CATS:
    return CATS(CATSParams(**kw), langs, {lang: 100 for lang in langs})  # type: ignore[arg-type]


def tasks(langs: list[str], grads: torch.Tensor, losses: list[float]) -> TaskGradients:
    return TaskGradients(langs=langs, losses=torch.tensor(losses), n_tokens=torch.full((len(langs),), 10.0), grads=grads)


# -- an independent reference, in NumPy, from the paper's equations -----------------------------


def ref_project(y: np.ndarray, total: float, floor: float) -> np.ndarray:
    """argmin ||x - y||² s.t. Σx = total, x >= floor, by bisection on the KKT threshold τ
    (x = max(y - τ, floor)); a different algorithm from catsmt's sort-based one."""
    lo, hi = float(y.min()) - total - 1.0, float(y.max()) + 1.0
    for _ in range(200):
        tau = 0.5 * (lo + hi)
        if np.maximum(y - tau, floor).sum() > total:
            lo = tau
        else:
            hi = tau
    return np.maximum(y - 0.5 * (lo + hi), floor)


def ref_projected(alpha: np.ndarray, lam_c: float, idx: list[int], losses: np.ndarray, grads: np.ndarray,
                  lr: float = 0.1, eta: float = 0.5, eps: float = 0.0, floor: float = 0.01, lam_max: float = 1.0,
                  loss_sign: float = 1.0) -> tuple[np.ndarray, float]:
    """One meta update of the projected mode, from Eq. 4: ∂/∂α_n = L̂_n + 2λ_c(Ĝα)_n at the
    current α, step min(lr, 1/(2λ_c‖Ĝ‖₂)), projection onto the batch's capped simplex; λ_c
    ascends on α_BᵀĜα_B − ε at the same α, clipped to [0, λ_max]."""
    g = grads.astype(np.float64)
    gram = g @ g.T
    l_hat = losses / max(abs(losses.mean()), 1e-12)
    mean_diag = np.diag(gram).mean()
    g_hat = gram / mean_diag if mean_diag > 1e-30 else gram / 1e-30
    a = alpha[idx]
    grad = loss_sign * l_hat + 2 * lam_c * g_hat @ a
    top = np.linalg.eigvalsh(g_hat).max()
    step = min(lr, 1 / (2 * lam_c * top)) if lam_c * top > 0 else lr
    new = alpha.copy()
    new[idx] = ref_project(a - step * grad, a.sum(), floor)
    curv = a @ g_hat @ a
    return new, float(np.clip(lam_c + eta * (curv - eps), 0.0, lam_max))


def ref_literal(alpha: np.ndarray, lam: dict[str, float], lam_n: np.ndarray, idx: list[int], losses: np.ndarray,
                grads: np.ndarray, lr: float = 0.1, eta: float = 0.5, eps: float = 0.0, eps_a: float = 0.01,
                ) -> tuple[np.ndarray, dict[str, float], np.ndarray]:
    """Eq. 4 and Algorithm 1 as written: raw L and G over the batch's K languages, plain SGD on
    α, projected ascent on λ, all gradients at the same point."""
    g = grads.astype(np.float64)
    a = alpha[idx]
    weighted = a @ g  # Σ α_n ∇L_n
    d_alpha = losses + 2 * lam["c"] * (g @ weighted) + 2 * lam["s"] * (a.sum() - 1) - lam_n[idx]
    new_alpha, new_lam_n = alpha.copy(), lam_n.copy()
    new_alpha[idx] = a - lr * d_alpha
    new_lam = {"c": max(0.0, lam["c"] + eta * (weighted @ weighted - eps)), "s": max(0.0, lam["s"] + eta * (a.sum() - 1) ** 2)}
    new_lam_n[idx] = np.maximum(0.0, lam_n[idx] + eta * (eps_a - a))
    return new_alpha, new_lam, new_lam_n


def random_batch(rng: np.random.Generator, n: int, k: int, p: int = 12) -> tuple[list[int], np.ndarray, np.ndarray]:
    idx = sorted(rng.choice(n, size=k, replace=False).tolist())
    grads = rng.normal(size=(k, p)) * rng.uniform(0.1, 3.0, size=(k, 1))
    if rng.random() < 0.3:  # correlated gradients, as in training
        grads += rng.normal(size=(1, p)) * rng.uniform(0.5, 3.0)
    return idx, rng.uniform(0.5, 6.0, size=k), grads


# -- the reference against catsmt ---------------------------------------------------------------


@pytest.mark.parametrize("alpha_lr", [0.1, 1.0, 5.0])  # 1.0 and 5.0: the 1/Lip cap binds
def test_projected_meta_update_matches_the_reference(alpha_lr: float) -> None:
    rng = np.random.default_rng(0)
    m = make(LANGS8, alpha_lr=alpha_lr)
    alpha, lam_c = np.full(8, 1 / 8), 0.0
    for _ in range(300):
        idx, losses, grads = random_batch(rng, 8, 4)
        langs = [LANGS8[i] for i in idx]
        m.meta_update(langs, torch.tensor(losses), torch.tensor(grads @ grads.T))
        alpha, lam_c = ref_projected(alpha, lam_c, idx, losses, grads, lr=alpha_lr)
        np.testing.assert_allclose(m.alpha.numpy(), alpha, atol=1e-9)
        assert m.lambda_c == pytest.approx(lam_c, abs=1e-9)


@pytest.mark.parametrize(("loss_term", "sign"), [("ascent", -1.0), ("none", 0.0)])
def test_other_loss_terms_match_the_reference(loss_term: str, sign: float) -> None:
    rng = np.random.default_rng(5)
    m = make(LANGS8, loss_term=loss_term)
    alpha, lam_c = np.full(8, 1 / 8), 0.0
    for _ in range(100):
        idx, losses, grads = random_batch(rng, 8, 4)
        m.meta_update([LANGS8[i] for i in idx], torch.tensor(losses), torch.tensor(grads @ grads.T))
        alpha, lam_c = ref_projected(alpha, lam_c, idx, losses, grads, loss_sign=sign)
        np.testing.assert_allclose(m.alpha.numpy(), alpha, atol=1e-9)


def test_with_ascent_the_larger_loss_gains_weight() -> None:
    """The robust reading: with equal orthogonal gradients, weight moves to the larger loss."""
    m = make(LANGS, loss_term="ascent")
    m.lambda_c = 0.5
    g = torch.eye(4, dtype=torch.float64)
    m.meta_update(LANGS, torch.tensor([1.0, 2.0, 3.0, 4.0]), g @ g.T)
    delta = (m.alpha - 0.25).tolist()
    assert delta[0] < delta[1] < delta[2] < delta[3]


def test_literal_meta_update_matches_the_reference() -> None:
    rng = np.random.default_rng(1)
    m = make(LANGS8, mode="literal", alpha_lr=0.05, multiplier_lr=0.3, curvature_bound=0.2)
    alpha, lam, lam_n = np.full(8, 1 / 8), {"c": 0.0, "s": 0.0}, np.zeros(8)
    for _ in range(40):
        idx, losses, grads = random_batch(rng, 8, 4, p=6)
        grads *= 0.1
        m.meta_update([LANGS8[i] for i in idx], torch.tensor(losses), torch.tensor(grads @ grads.T))
        alpha, lam, lam_n = ref_literal(alpha, lam, lam_n, idx, losses, grads, lr=0.05, eta=0.3, eps=0.2)
        np.testing.assert_allclose(m.alpha.numpy(), alpha, rtol=1e-9, atol=1e-12)
        assert (m.lambda_c, m.lambda_s) == pytest.approx((lam["c"], lam["s"]), rel=1e-9, abs=1e-12)
        np.testing.assert_allclose(m.lambda_n.numpy(), lam_n, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("case", ["one_language", "identical", "orthogonal", "zero"])
def test_edge_cases_match_the_reference(case: str) -> None:
    k = 1 if case == "one_language" else 4
    grads = {
        "one_language": np.ones((1, 5)),
        "identical": np.tile(np.arange(1.0, 6.0), (4, 1)),
        "orthogonal": np.eye(4, 6) * np.array([[1.0], [2.0], [0.5], [1.0]]),
        "zero": np.zeros((4, 5)),
    }[case]
    idx = list(range(k))
    losses = np.array([2.0, 3.0, 1.0, 4.0])[:k]
    m = make(LANGS8, alpha_lr=0.5)
    m.lambda_c = 0.7
    alpha, lam_c = np.full(8, 1 / 8), 0.7
    for _ in range(20):
        m.meta_update(LANGS8[:k], torch.tensor(losses), torch.tensor(grads @ grads.T))
        alpha, lam_c = ref_projected(alpha, lam_c, idx, losses, grads, lr=0.5)
        np.testing.assert_allclose(m.alpha.numpy(), alpha, atol=1e-9)
        assert m.lambda_c == pytest.approx(lam_c, abs=1e-12)
    assert math.isfinite(m.lambda_c) and bool(torch.isfinite(m.alpha).all())
    if case == "one_language":
        assert float(m.alpha[0]) == pytest.approx(1 / 8)  # nothing to move weight to


def test_projection_matches_bisection_and_satisfies_kkt() -> None:
    rng = np.random.default_rng(2)
    for _ in range(2000):
        k = int(rng.integers(1, 9))
        floor = float(rng.choice([0.0, 0.01, 0.05]))
        total = k * floor + float(rng.uniform(0, 2))
        y = rng.normal(size=k) * float(rng.choice([0.01, 1.0, 10.0]))
        ours = project_capped_simplex(torch.tensor(y), total, floor).numpy()
        np.testing.assert_allclose(ours, ref_project(y, total, floor), atol=1e-9)
        assert abs(ours.sum() - total) < 1e-12 * max(1.0, total) and ours.min() >= floor - 1e-15


def test_projection_of_an_infeasible_total_is_refused() -> None:
    with pytest.raises(ValueError, match="no point"):
        project_capped_simplex(torch.zeros(4), 0.02, 0.01)


# -- invariants over thousands of random meta updates -------------------------------------------


def test_invariants_over_5000_random_meta_updates() -> None:
    """N = 8, K = 4: Σα = 1 and α ≥ alpha_min after every update, multipliers finite and
    bounded, and the α step keeps its size (late / early mean |Δα|)."""
    rng = np.random.default_rng(3)
    m = make(LANGS8)
    floor = m.params.alpha_min
    moves = []
    for _ in range(5000):
        idx, losses, grads = random_batch(rng, 8, 4)
        before = m.alpha.clone()
        m.meta_update([LANGS8[i] for i in idx], torch.tensor(losses), torch.tensor(grads @ grads.T))
        assert abs(float(m.alpha.sum()) - 1.0) < 1e-12
        assert float(m.alpha.min()) >= floor - 1e-15
        assert 0.0 <= m.lambda_c <= m.params.resolved_lambda_max
        absent = [i for i in range(8) if i not in idx]
        assert torch.equal(m.alpha[absent], before[absent])  # languages out of the batch are not touched
        moves.append(float((m.alpha - before).abs().sum()))
    early, late = np.mean(moves[:500]), np.mean(moves[-500:])
    assert late / early > 0.5, (early, late)


def test_the_step_size_does_not_vanish_under_stationary_inputs() -> None:
    """The same batch for 3000 meta updates: λ_c saturates at lambda_max, and the α step stays
    at least min(alpha_lr, 1 / (2 lambda_max K)) (it used to shrink 50-fold through λ_s)."""
    m = make(LANGS8)
    g = torch.randn(4, 30, generator=torch.Generator().manual_seed(4), dtype=torch.float64) + 0.5
    for _ in range(3000):
        m.meta_update(LANGS8[:4], torch.tensor([2.0, 3.0, 2.5, 1.5]), g @ g.T)
    assert m.lambda_c == pytest.approx(1.0)
    assert m.last["alpha_step"] >= min(0.1, 1 / (2 * 1.0 * 4))


def test_default_mode_keeps_every_language_above_the_floor_in_a_two_task_loop() -> None:
    """The docs' two-task toy with m = 1: the old clip-at-0 starved task b (α_b = 0 for 290
    updates); now α_b ≥ alpha_min and the sum stays 1."""
    m = CATS(CATSParams(update_every=[[0, 1]]), ["a", "b"], {"a": 1, "b": 1})
    gen = torch.Generator().manual_seed(5)
    for _ in range(300):
        g = torch.randn(2, 10, generator=gen, dtype=torch.float64)
        g[1] *= 5
        m.combine(0, tasks(["a", "b"], g.float(), [0.1, 2.0]))
        assert float(m.alpha.min()) >= 0.01 - 1e-15
        assert float(m.alpha.sum()) == pytest.approx(1.0, abs=1e-12)
    assert float(m.alpha[1]) == pytest.approx(0.01)  # sits on the floor, never below


# -- directions that follow from Eq. 4 ----------------------------------------------------------


def test_with_equal_losses_the_larger_gradient_loses_weight() -> None:
    m = make(LANGS)
    m.lambda_c = 0.5
    g = torch.diag(torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64))
    m.meta_update(LANGS, torch.ones(4), g @ g.T)
    delta = (m.alpha - 0.25).tolist()
    assert delta[0] > delta[1] > delta[2] > delta[3]


def test_with_equal_orthogonal_gradients_the_larger_loss_loses_weight() -> None:
    m = make(LANGS)
    m.lambda_c = 0.5
    g = torch.eye(4, dtype=torch.float64)
    m.meta_update(LANGS, torch.tensor([1.0, 2.0, 3.0, 4.0]), g @ g.T)
    delta = (m.alpha - 0.25).tolist()
    assert delta[0] > delta[1] > delta[2] > delta[3]


def test_large_lambda_c_two_tasks_reaches_the_mgda_min_norm_point() -> None:
    """With the loss term equal across tasks, only λ_c αᵀGα moves α: it must find the min-norm
    point of the segment [g1, g2] (closed form)."""
    g1, g2 = torch.tensor([1.0, 0.0]), torch.tensor([0.5, 2.0])
    grads = torch.stack([g1, g2]).double()
    gamma = float(((g2 - g1) @ g2) / (g1 - g2).pow(2).sum())
    m = CATS(CATSParams(normalize=False, lambda_max=50.0, multiplier_lr=100.0), ["a", "b"], {"a": 1, "b": 1})
    for _ in range(3000):
        m.meta_update(["a", "b"], torch.tensor([1.0, 1.0]), grads @ grads.T)
    assert m.lambda_c == 50.0
    assert float(m.alpha[0]) == pytest.approx(gamma, abs=1e-3)


def test_lambda_c_ascends_at_the_alpha_before_the_step() -> None:
    """Algorithm 1, line 11: both gradients at the same point. A large α step changes α a
    lot; λ_c must still move by η (α_oldᵀĜα_old − ε)."""
    m = make(LANGS, alpha_lr=1.0, normalize=False, multiplier_lr=1.0)
    g = torch.diag(torch.tensor([1.0, 1.0, 1.0, 1.0], dtype=torch.float64))
    m.meta_update(LANGS, torch.tensor([0.1, 0.2, 0.3, 0.4]), g @ g.T)
    assert m.lambda_c == pytest.approx(4 * 0.25**2)


def test_lambda_c_falls_when_the_curvature_constraint_holds() -> None:
    m = make(LANGS, curvature_bound=10.0)
    m.lambda_c = 0.5
    g = torch.eye(4, dtype=torch.float64)
    m.meta_update(LANGS, torch.ones(4), g @ g.T)
    assert m.lambda_c == 0.0  # 0.5 + 0.5 (0.25 - 10) < 0: projected to 0


# -- literal mode: Eq. 4 as written, and how it fails ------------------------------------------


def test_literal_mode_leaves_the_simplex_at_once_and_then_diverges() -> None:
    """Every L_n > 0 lowers all batch α at once: with the raw losses of NMT (a few nats) and
    lr 0.1, α_n < 0 after the first meta update; the sum penalty's λ_s then grows and the
    plain SGD step on it overshoots, so Σα oscillates with growing amplitude."""
    m = make(LANGS, mode="literal")
    g = 0.01 * torch.eye(4, 8, dtype=torch.float64)
    m.meta_update(LANGS, torch.tensor([2.0, 3.0, 4.0, 5.0]), g @ g.T)
    assert float(m.alpha.min()) < 0 and float(m.alpha.sum()) < 0
    assert m.loss_weights(0, LANGS, torch.ones(4)).tolist() == pytest.approx(m.alpha.tolist())  # raw α̃, negative
    for _ in range(9):
        m.meta_update(LANGS, torch.tensor([2.0, 3.0, 4.0, 5.0]), g @ g.T)
    assert abs(float(m.alpha.sum()) - 1) > 100


# -- the pieces and the interface ---------------------------------------------------------------


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
        (alpha * losses).sum() - lam_c * (eps - weighted.pow(2).sum()) + lam_s * (alpha.sum() - 1) ** 2 - (lam_n * (alpha - eps_a)).sum()
    )
    (auto,) = torch.autograd.grad(lagrangian, alpha)
    ours = lagrangian_alpha_grad(alpha.detach(), losses, g @ g.T, lam_c, lam_s, lam_n, float(alpha.detach().sum()))
    assert torch.allclose(auto, ours)


def test_alpha_starts_on_simplex_and_multipliers_at_zero() -> None:
    m = make()
    assert torch.allclose(m.alpha, torch.full((4,), 0.25, dtype=torch.float64))
    assert m.lambda_c == 0 and m.lambda_s == 0 and bool((m.lambda_n == 0).all())


def test_non_meta_steps_use_one_weighted_loss_and_batch_alpha() -> None:
    m = make(update_every=[[0, 10]])
    assert m.needs_task_grads(0) and not m.needs_task_grads(1) and m.needs_task_grads(10)
    w = m.loss_weights(3, ["aze", "rus"], torch.tensor([5.0, 50.0]))
    assert torch.allclose(w, torch.tensor([0.5, 0.5]))  # alpha renormalised over the batch, not tokens


def test_loss_weights_live_on_the_device_of_the_losses() -> None:
    w = make().loss_weights(0, ["aze", "rus"], torch.ones(2, device="meta"))
    assert w.device.type == "meta"


def test_schedule_follows_the_paper() -> None:
    sched = [[8000, 10], [0, 1000]]
    assert meta_interval(sched, 0) == 10
    assert meta_interval(sched, 7999) == 10
    assert meta_interval(sched, 8000) == 1000


def test_combine_uses_alpha_before_the_meta_update() -> None:
    m = make(alpha_lr=0.1)
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


# -- token_prior: α scales the token-weighted batch loss -----------------------------------------


def test_token_prior_at_uniform_alpha_is_token_weighting() -> None:
    """Uniform α with token_prior gives each language its token share: static temperature's
    weights, whatever languages and counts the batch has."""
    rng = np.random.default_rng(3)
    m = make(LANGS8, token_prior=True)
    for _ in range(2000):
        k = int(rng.integers(1, 9))
        langs = [LANGS8[i] for i in sorted(rng.choice(8, size=k, replace=False))]
        n = torch.tensor(rng.integers(1, 4000, size=k), dtype=torch.float32)
        w = m.loss_weights(0, langs, n)
        assert torch.allclose(w.double(), n.double() / n.double().sum(), rtol=1e-6, atol=0)


def test_token_prior_weights_are_alpha_times_tokens() -> None:
    rng = np.random.default_rng(4)
    m = make(LANGS8, token_prior=True)
    plain = make(LANGS8)
    for _ in range(500):
        alpha = rng.dirichlet(np.ones(8))
        m.alpha = plain.alpha = torch.tensor(alpha)
        idx = sorted(rng.choice(8, size=4, replace=False).tolist())
        n = rng.integers(1, 4000, size=4).astype(np.float64)
        want = alpha[idx] * n / (alpha[idx] * n).sum()
        langs = [LANGS8[i] for i in idx]
        got = m.loss_weights(0, langs, torch.tensor(n)).double().numpy()
        assert np.allclose(got, want, rtol=1e-6)
        assert np.allclose(plain.loss_weights(0, langs, torch.tensor(n)).double().numpy(), alpha[idx] / alpha[idx].sum(), rtol=1e-6)


def test_token_prior_meta_update_is_eq4_of_the_token_weighted_parts() -> None:
    """With shares s_n the tasks are s_n L_n with gradients s_n g_n: the reference of Eq. 4 fed
    those must give catsmt's α and λ_c, over 300 random meta updates, ascent and descent."""
    for loss_term, sign in (("ascent", -1.0), ("descent", 1.0)):
        rng = np.random.default_rng(5)
        m = make(LANGS8, token_prior=True, loss_term=loss_term, alpha_lr=0.5)
        alpha, lam_c = np.full(8, 1 / 8), 0.0
        for _ in range(300):
            idx, losses, grads = random_batch(rng, 8, 4)
            n = rng.integers(200, 2000, size=4).astype(np.float64)
            share = n / n.sum()
            tg = TaskGradients(langs=[LANGS8[i] for i in idx], losses=torch.tensor(losses),
                               n_tokens=torch.tensor(n), grads=torch.tensor(grads))
            m.combine(0, tg)
            alpha, lam_c = ref_projected(alpha, lam_c, idx, share * losses, share[:, None] * grads, lr=0.5, loss_sign=sign)
            assert np.allclose(m.alpha.numpy(), alpha, atol=1e-9), loss_term
            assert m.lambda_c == pytest.approx(lam_c, abs=1e-9)


def test_token_prior_update_is_the_token_weighted_gradient_at_uniform_alpha() -> None:
    g = torch.randn(4, 7, dtype=torch.float64)
    n = torch.tensor([512.0, 1024.0, 512.0, 0.5], dtype=torch.float64)
    update = make(token_prior=True).combine(0, TaskGradients(langs=LANGS, losses=torch.ones(4), n_tokens=n, grads=g))
    assert torch.allclose(update, (n / n.sum()) @ g, rtol=1e-6)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"mode": "literal", "token_prior": True}, "token_prior is a projected-mode option"),
        ({"update_every": []}, "update_every"),
        ({"mode": "sgd"}, "mode must be one of projected, literal"),
        ({"alpha_min": 0.3}, "infeasible for 4 languages"),
        ({"alpha_lr": float("nan")}, "alpha_lr"),
        ({"center": False}, "mode=literal"),
        ({"lambda_max": -1.0}, "lambda_max"),
        ({"loss_term": "up"}, "loss_term must be one of descent, ascent, none"),
        ({"mode": "literal", "loss_term": "ascent"}, "loss_term=descent"),
    ],
)
def test_bad_hyperparameters_are_refused_when_built(params: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make(**params)
