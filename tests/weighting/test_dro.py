"""DRO: the χ²-ball best response against a brute-force search of the simplex, the radius held,
and the iterated best response from observed losses."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from catsmt.weighting.base import temperature_probs
from catsmt.weighting.dro import DRO, DROParams, chi_square, worst_case_mixture

LANGS = ["aze", "bel", "rus"]
SIZES = {"aze": 100, "bel": 300, "rus": 600}


def make(**kw: object) -> DRO:
    return DRO(DROParams(**kw), LANGS, SIZES)  # type: ignore[arg-type]


def simplex_grid(k: int, steps: int) -> np.ndarray:
    """Every point of the simplex in R^k whose coordinates are multiples of 1/steps."""
    if k == 2:
        a = np.arange(steps + 1) / steps
        return np.stack([a, 1 - a], axis=1)
    i, j = np.meshgrid(np.arange(steps + 1), np.arange(steps + 1), indexing="ij")
    keep = i + j <= steps
    a, b = i[keep] / steps, j[keep] / steps
    return np.stack([a, b, 1 - a - b], axis=1)


CASES = [
    # (losses, p, rho, min_ratio)
    ([3.0, 1.0], [0.5, 0.5], 0.05, 0.0),
    ([1.0, 2.5], [0.8, 0.2], 0.1, 0.0),
    ([1.0, 2.5], [0.8, 0.2], 0.1, 0.9),  # the floor q_1 >= 0.72 binds
    ([2.0, 2.2], [0.3, 0.7], 1.0, 0.0),  # a ball large enough to hold the linear program's answer
    ([4.0, 2.0, 3.0], [0.2, 0.3, 0.5], 0.05, 0.0),
    ([4.0, 1.0, 3.0], [0.45, 0.1, 0.45], 0.2, 0.0),  # the smallest loss drops to q = 0
    ([4.0, 1.0, 3.0], [0.45, 0.1, 0.45], 0.2, 0.5),  # ... unless it is floored
    ([1.0, 5.0, 1.5], [0.7, 0.1, 0.2], 0.3, 0.3),
    ([2.0, 2.0, 1.0], [0.25, 0.25, 0.5], 0.08, 0.0),  # a tie for the largest loss
]


@pytest.mark.parametrize(("losses", "p", "rho", "floor"), CASES)
def test_best_response_matches_a_brute_force_search_of_the_simplex(
    losses: list[float], p: list[float], rho: float, floor: float
) -> None:
    ell, base = np.array(losses), np.array(p)
    steps = 20000 if len(losses) == 2 else 1000
    grid = simplex_grid(len(losses), steps)
    inside = (0.5 * ((grid - base) ** 2 / base).sum(axis=1) <= rho) & (grid >= floor * base - 1e-12).all(axis=1)
    feasible = grid[inside]
    best = feasible[np.argmax(feasible @ ell)]
    q = worst_case_mixture(ell, base, rho, floor)
    # q is feasible, at least as good as every grid point, and no better than the grid's
    # best by more than the grid's resolution; it is (up to that resolution) the same point.
    assert chi_square(q, base) <= rho + 1e-12
    assert (q >= floor * base - 1e-12).all() and q.sum() == pytest.approx(1.0, abs=1e-12)
    assert q @ ell >= best @ ell - 1e-12
    assert q @ ell <= best @ ell + 2 * np.ptp(ell) / steps
    assert np.abs(q - best).max() < steps**-0.5


@pytest.mark.parametrize("seed", range(30))
def test_radius_is_respected_and_reached_when_binding(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 10))
    p = rng.dirichlet(np.ones(n))
    ell = rng.uniform(0.5, 6.0, n)
    rho = float(rng.uniform(0.001, 0.5))
    floor = float(rng.choice([0.0, 0.2, 0.6]))
    q = worst_case_mixture(ell, p, rho, floor)
    d = chi_square(q, p)
    assert d <= rho + 1e-12
    assert (q >= floor * p - 1e-12).all() and q.sum() == pytest.approx(1.0, abs=1e-12)
    assert q @ ell >= p @ ell - 1e-12  # never less robust than the baseline itself
    # Unless the ball holds the linear program's answer (floor everywhere, the rest on the
    # largest loss), the radius is binding: the worst case sits on the boundary.
    lp = floor * p
    lp[np.argmax(ell)] += 1 - floor
    if chi_square(lp, p) > rho:
        assert d == pytest.approx(rho, rel=1e-9)


def test_plain_ball_has_the_closed_form_q_proportional_to_p_times_loss_minus_eta() -> None:
    p = np.array([0.1, 0.2, 0.3, 0.4])
    ell = np.array([5.0, 1.0, 3.0, 2.0])
    q = worst_case_mixture(ell, p, 0.1, 0.0)
    on = q > 0
    ratio = q[on] / p[on]  # = (ℓ − η) / λ: affine in ℓ with one slope
    slope = np.polyfit(ell[on], ratio, 1)
    assert np.allclose(np.polyval(slope, ell[on]), ratio, atol=1e-10)
    assert slope[0] > 0


def test_zero_radius_and_equal_losses_give_the_baseline() -> None:
    p = np.array([0.2, 0.3, 0.5])
    assert np.allclose(worst_case_mixture([3.0, 1.0, 2.0], p, 0.0), p)
    assert np.allclose(worst_case_mixture([2.0, 2.0, 2.0], p, 0.5), p)


def test_losses_feed_a_running_average_and_best_respond_every_update_every() -> None:
    m = make(update_every=3, ema=0.5, rho=0.1, min_ratio=0.0)
    p = np.array([temperature_probs(SIZES, 1.0)[lang] for lang in LANGS])
    assert torch.allclose(m.q, torch.from_numpy(p))
    m.observe_losses(0, ["aze", "bel"], torch.tensor([4.0, 2.0]), torch.tensor([10.0, 10.0]))
    m.observe_losses(1, ["aze", "bel"], torch.tensor([2.0, 2.0]), torch.tensor([10.0, 10.0]))
    assert m.loss_ema[:2].tolist() == [3.0, 2.0]  # first value, then (1 − 0.5) old + 0.5 new
    m.observe_losses(2, ["aze"], torch.tensor([3.0]), torch.tensor([10.0]))
    assert m.best_responses == 0  # rus has no loss yet: q stays the baseline
    assert torch.allclose(m.q, torch.from_numpy(p))
    m.observe_losses(3, ["rus"], torch.tensor([1.0]), torch.tensor([10.0]))
    m.observe_losses(4, ["rus"], torch.tensor([1.0]), torch.tensor([10.0]))
    assert m.best_responses == 0
    m.observe_losses(5, ["rus"], torch.tensor([1.0]), torch.tensor([10.0]))
    assert m.best_responses == 1
    expected = worst_case_mixture([3.0, 2.0, 1.0], p, 0.1, 0.0)
    assert np.allclose(m.q.numpy(), expected)
    probs = m.sampling_probs()
    assert probs["aze"] > p[0] and probs["rus"] < p[2]  # weight moves to the larger loss
    assert m.log_values()["dro/chi_square"] == pytest.approx(0.1, rel=1e-9)


def test_non_finite_losses_are_ignored() -> None:
    m = make(update_every=1)
    m.observe_losses(0, LANGS, torch.tensor([2.0, float("nan"), 1.0]), torch.ones(3))
    assert m.loss_ema[0] == 2.0 and bool(m.loss_ema[1].isnan())


def test_resample_mode_samples_from_q_and_weights_tokens() -> None:
    m = make()
    m.q = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)
    assert m.sampling_probs() == pytest.approx({"aze": 0.5, "bel": 0.3, "rus": 0.2})
    w = m.loss_weights(0, ["aze", "rus"], torch.tensor([30.0, 10.0]))
    assert torch.allclose(w, torch.tensor([0.75, 0.25]))


def test_reweight_mode_samples_from_p_and_importance_weights_the_losses() -> None:
    m = make(mode="reweight")
    m.q = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)
    assert m.sampling_probs() == pytest.approx({"aze": 0.1, "bel": 0.3, "rus": 0.6})
    w = m.loss_weights(0, ["aze", "rus"], torch.tensor([30.0, 10.0]))
    raw = torch.tensor([30.0 * 0.5 / 0.1, 10.0 * 0.2 / 0.6])
    assert torch.allclose(w, raw / raw.sum())
    assert w.dtype == torch.float32


def test_bad_options_name_themselves() -> None:
    for kw, name in [({"rho": -1.0}, "rho"), ({"min_ratio": 1.0}, "min_ratio"), ({"mode": "resampel"}, "mode"),
                     ({"ema": 0.0}, "ema"), ({"update_every": 0}, "update_every"), ({"temperature": float("inf")}, "temperature")]:
        with pytest.raises(ValueError, match=name):
            make(**kw)


def test_state_round_trips_and_continues_identically() -> None:
    gen = torch.Generator().manual_seed(0)

    def feed(m: DRO, steps: range) -> list[dict[str, float]]:
        out = []
        for step in steps:
            k = int(torch.randint(1, 4, (1,), generator=gen))
            langs = [LANGS[i] for i in sorted(torch.randperm(3, generator=gen)[:k].tolist())]
            m.observe_losses(step, langs, torch.rand(k, generator=gen) * 4 + 1, torch.ones(k))
            out.append(m.sampling_probs())
        return out

    original = make(update_every=4)
    feed(original, range(10))
    buf = io.BytesIO()
    torch.save(original.state_dict(), buf)
    buf.seek(0)
    restored = make(update_every=4)
    restored.load_state_dict(torch.load(buf, weights_only=True))
    state = gen.get_state()
    after_original = feed(original, range(10, 30))
    gen.set_state(state)
    after_restored = feed(restored, range(10, 30))
    assert after_original == after_restored
    assert original.best_responses == restored.best_responses >= 5
    assert original.log_values() == restored.log_values()
