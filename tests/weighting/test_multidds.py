"""MultiDDS: ψ starts at temperature sampling and moves towards dev-aligned languages."""

from __future__ import annotations

import math

import pytest
import torch

from catsmt.weighting.base import TaskGradients, temperature_probs, token_weights
from catsmt.weighting.multidds import MultiDDS, MultiDDSParams, alignment_rewards

LANGS = ["aze", "bel", "rus", "tur"]
SIZES = {"aze": 100, "bel": 400, "rus": 1600, "tur": 900}


def make(**kw: object) -> MultiDDS:
    return MultiDDS(MultiDDSParams(**kw), LANGS, SIZES)  # type: ignore[arg-type]


def test_psi_starts_at_temperature_sampling() -> None:
    for t in (1.0, 5.0, math.inf):
        probs = make(temperature=t).sampling_probs()
        assert probs == pytest.approx(temperature_probs(SIZES, t))


def test_language_aligned_with_dev_gains_probability() -> None:
    dev = torch.tensor([1.0, 0.0, 0.0, 0.0])
    g = torch.tensor([[2.0, 0.1, 0.0, 0.0], [-1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]])
    m = make(update_every=1, psi_lr=0.5)
    before = m.sampling_probs()
    tasks = TaskGradients(
        langs=["aze", "bel", "rus"], losses=torch.ones(3), n_tokens=torch.ones(3), grads=g, dev_grad=lambda: dev
    )
    for step in range(10):
        m.combine(step, tasks)
    after = m.sampling_probs()
    assert after["aze"] > before["aze"]  # aligned with dev
    assert after["bel"] < before["bel"]  # opposed to dev
    assert sum(after.values()) == pytest.approx(1.0)
    assert m.log_values()["reward/aze"] == pytest.approx(2 / math.sqrt(4.01))


def test_one_step_is_reinforce_on_the_logits() -> None:
    gen = torch.Generator().manual_seed(0)
    g = torch.randn(2, 6, generator=gen)
    dev = torch.randn(6, generator=gen)
    m = make(psi_lr=0.3)
    logits = m.logits.clone().requires_grad_()
    rewards = torch.stack([torch.nn.functional.cosine_similarity(g[i].double(), dev.double(), dim=0) for i in range(2)])
    idx = [LANGS.index("tur"), LANGS.index("bel")]
    # REINFORCE: ascend Σ_n R_n log ψ_n, computed by autograd
    objective = (rewards * torch.log_softmax(logits, 0)[idx]).sum()
    (grad,) = torch.autograd.grad(objective, logits)
    m.combine(0, TaskGradients(langs=["tur", "bel"], losses=torch.ones(2), n_tokens=torch.ones(2), grads=g, dev_grad=lambda: dev))
    assert torch.allclose(m.logits, logits.detach() + 0.3 * grad)
    assert torch.allclose(alignment_rewards(g, dev), rewards)


def test_model_update_is_token_weighted_and_psi_changes_only_on_update_steps() -> None:
    m = make(update_every=100)
    assert m.needs_task_grads(0) and not m.needs_task_grads(1) and m.needs_task_grads(200)
    n = torch.tensor([10.0, 30.0])
    assert torch.allclose(m.loss_weights(5, ["aze", "rus"], n), token_weights(n))
    g = torch.randn(2, 5)
    tasks = TaskGradients(langs=["aze", "rus"], losses=torch.ones(2), n_tokens=n, grads=g, dev_grad=lambda: torch.ones(5))
    before = m.logits.clone()
    assert torch.allclose(m.combine(5, tasks), token_weights(n) @ g)
    assert torch.equal(m.logits, before)


def test_missing_dev_gradient_is_a_clear_error() -> None:
    tasks = TaskGradients(langs=["aze"], losses=torch.ones(1), n_tokens=torch.ones(1), grads=torch.ones(1, 3))
    with pytest.raises(ValueError, match="dev_grad"):
        make().combine(0, tasks)
    with pytest.raises(ValueError, match="update_every"):
        make(update_every=0)
