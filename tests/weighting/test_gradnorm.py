"""GradNorm: the weight update equalises weighted gradient norms and follows training rates."""

from __future__ import annotations

import pytest
import torch

from catsmt.weighting.base import TaskGradients
from catsmt.weighting.gradnorm import GradNorm, GradNormParams, shared_layer_slices

LANGS = ["aze", "bel", "rus"]
SIZES = {"aze": 10, "bel": 20, "rus": 30}


def make(**kw: object) -> GradNorm:
    return GradNorm(GradNormParams(**kw), LANGS, SIZES)  # type: ignore[arg-type]


def scaled_gradients(scales: list[float], dim: int = 40, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    d = torch.randn(len(scales), dim, generator=gen)
    return d / d.norm(dim=1, keepdim=True) * torch.tensor(scales)[:, None]


def test_weighted_gradient_norms_converge_to_equal() -> None:
    scales = [1.0, 2.0, 4.0]
    g = scaled_gradients(scales)
    m = make(weight_lr=0.005)
    tasks = TaskGradients(langs=LANGS, losses=torch.full((3,), 2.0), n_tokens=torch.ones(3), grads=g)
    spread = []
    for step in range(600):
        m.combine(step, tasks)
        weighted = m.weights * torch.tensor(scales, dtype=torch.float64)  # G_i = w_i ||g_i||
        spread.append(float(weighted.max() / weighted.min()))
    assert spread[0] > 3.0
    assert max(spread[-100:]) < 1.1  # equal within the sign-gradient's oscillation
    # the fixed point: w_i ∝ 1/||g_i||, summing to N
    ideal = torch.tensor([1.0, 0.5, 0.25], dtype=torch.float64)
    ideal *= 3 / ideal.sum()
    assert torch.allclose(m.weights, ideal, rtol=0.05)
    assert float(m.weights.sum()) == pytest.approx(3.0)


def test_slower_training_rate_gets_more_weight() -> None:
    g = scaled_gradients([1.0, 1.0, 1.0])
    m = make(alpha=1.5)
    m.combine(0, TaskGradients(langs=LANGS, losses=torch.tensor([2.0, 2.0, 2.0]), n_tokens=torch.ones(3), grads=g))
    # aze's loss stays at its initial value while the others halve: r_aze > 1
    for step in range(1, 100):
        m.combine(step, TaskGradients(langs=LANGS, losses=torch.tensor([2.0, 1.0, 1.0]), n_tokens=torch.ones(3), grads=g))
    aze, bel, rus = m.weights.tolist()
    assert bel == pytest.approx(rus, abs=0.1)  # equal up to the sign-gradient's oscillation
    # fixed point: w_i ||g_i|| ∝ r_i^α with r = (1, 0.5, 0.5) / mean = (1.5, 0.75, 0.75)
    assert aze / ((bel + rus) / 2) == pytest.approx(2**1.5, rel=0.1)
    assert torch.equal(m.initial_losses, torch.full((3,), 2.0, dtype=torch.float64))


def test_one_update_matches_the_hand_computed_gradient_of_l_grad() -> None:
    g = scaled_gradients([1.0, 3.0])
    m = make(alpha=1.0, weight_lr=0.1)
    m.initial_losses[:] = torch.tensor([4.0, 1.0, 2.0], dtype=torch.float64)
    losses = torch.tensor([2.0, 1.0])  # aze: ratio 0.5, bel: ratio 1.0
    m.combine(0, TaskGradients(langs=["aze", "bel"], losses=losses, n_tokens=torch.ones(2), grads=g))
    norms = torch.tensor([1.0, 3.0], dtype=torch.float64)
    big_g = norms  # w = 1
    r = torch.tensor([0.5, 1.0], dtype=torch.float64) / 0.75
    target = big_g.mean() * r
    w = torch.ones(3, dtype=torch.float64)
    w[:2] -= 0.1 * torch.sign(big_g - target) * norms
    w *= 3 / w.sum()
    assert torch.allclose(m.weights, w)


def test_loss_weights_are_batch_normalised_weights() -> None:
    m = make()
    assert torch.allclose(m.loss_weights(0, ["aze", "rus"], torch.tensor([5.0, 50.0])), torch.tensor([0.5, 0.5]))
    m.weights = torch.tensor([2.0, 0.5, 0.5], dtype=torch.float64)
    w = m.loss_weights(0, ["aze", "rus"], torch.tensor([5.0, 50.0]))
    assert torch.allclose(w, torch.tensor([0.8, 0.2]))
    g = torch.randn(2, 4)
    tasks = TaskGradients(langs=["aze", "rus"], losses=torch.ones(2), n_tokens=torch.ones(2), grads=g)
    assert torch.allclose(m.combine(1, tasks), 0.8 * g[0] + 0.2 * g[1])  # weights before the update


def test_only_the_chosen_layer_counts() -> None:
    # equal norms on the last decoder layer, wildly unequal elsewhere: weights stay at 1
    slices = {"encoder_layers.0.w": slice(0, 4), "decoder_layers.0.w": slice(4, 8), "decoder_layers.1.w": slice(8, 12), "decoder_layers.1.b": slice(12, 14)}
    g = torch.zeros(2, 14)
    g[0, :8] = 100.0
    g[:, 8:14] = torch.tensor([[1.0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 1.0]])
    m = make()
    for step in range(5):
        m.combine(step, TaskGradients(langs=["aze", "bel"], losses=torch.ones(2), n_tokens=torch.ones(2), grads=g, param_slices=slices))
    assert torch.allclose(m.weights, torch.ones(3, dtype=torch.float64))
    assert shared_layer_slices(slices, "auto", 14) == [slice(8, 12), slice(12, 14)]
    assert shared_layer_slices(slices, "encoder_", 14) == [slice(0, 4)]
    assert shared_layer_slices({}, "auto", 14) == [slice(0, 14)]
    assert shared_layer_slices(slices, "", 14) == [slice(0, 14)]
    with pytest.raises(ValueError, match="trunk"):
        shared_layer_slices(slices, "trunk.", 14)
    with pytest.raises(ValueError, match="layer_prefix"):
        shared_layer_slices({"trunk.w": slice(0, 14)}, "auto", 14)


def test_update_every_and_positivity() -> None:
    m = make(update_every=3, weight_lr=10.0)
    assert [m.needs_task_grads(s) for s in range(4)] == [True, False, False, True]
    g = scaled_gradients([1.0, 5.0, 1.0])
    tasks = TaskGradients(langs=LANGS, losses=torch.ones(3), n_tokens=torch.ones(3), grads=g)
    m.combine(1, tasks)  # not an update step: nothing changes
    assert torch.equal(m.weights, torch.ones(3, dtype=torch.float64))
    m.combine(3, tasks)  # a huge step would make bel's weight negative: floored, renormalised
    assert bool((m.weights > 0).all()) and float(m.weights.sum()) == pytest.approx(3.0)


def test_non_finite_losses_do_not_poison_the_weights() -> None:
    m = make()
    g = scaled_gradients([1.0, 2.0, 3.0])
    m.combine(0, TaskGradients(langs=LANGS, losses=torch.tensor([1.0, float("nan"), 1.0]), n_tokens=torch.ones(3), grads=g))
    assert bool(m.weights.isfinite().all()) and bool(m.initial_losses.isnan().all())
