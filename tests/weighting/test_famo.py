"""FAMO: the weights and the logit update against a NumPy transcription of the paper's
equations (Liu et al., 2023, Algorithm 1), and what the loop-facing choices do."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from catsmt.weighting.famo import FAMO, FAMOParams

LANGS = ["aze", "bel", "glg", "rus"]
SIZES = {"aze": 10, "bel": 20, "glg": 30, "rus": 40}


def make(**kw: object) -> FAMO:
    return FAMO(FAMOParams(**kw), LANGS, SIZES)  # type: ignore[arg-type]


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


def paper_famo(losses: np.ndarray, beta: float, gamma: float, optimizer: str, floor: float = 0.0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Algorithm 1 written out: ``losses[t]`` is ℓ(θ_t) (all tasks every step). Returns the
    logits ξ after each step and the weights ``c z_i / ℓ_i`` used at each step."""
    xi = np.zeros(losses.shape[1])
    m, v = np.zeros_like(xi), np.zeros_like(xi)
    xis, weights = [], []
    for t in range(1, len(losses)):
        z = softmax(xi)
        c = 1.0 / np.sum(z / (losses[t - 1] - floor))
        weights.append(c * z / (losses[t - 1] - floor))  # with the latest loss seen before update t
        d = np.log(losses[t - 1] - floor) - np.log(losses[t] - floor)  # log ℓ(θ_t) − log ℓ(θ_{t+1})
        jacobian = np.diag(z) - np.outer(z, z)  # ∂z/∂ξ
        delta = jacobian.T @ d
        g = delta + gamma * xi
        if optimizer == "sgd":
            xi = xi - beta * g
        else:  # Adam (Kingma & Ba, 2015, Algorithm 1), PyTorch's defaults
            m = 0.9 * m + 0.1 * g
            v = 0.999 * v + 0.001 * g**2
            m_hat, v_hat = m / (1 - 0.9**t), v / (1 - 0.999**t)
            xi = xi - beta * m_hat / (np.sqrt(v_hat) + 1e-8)
        xis.append(xi.copy())
    return xis, weights


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("floor", [0.0, 0.5])
def test_logits_and_weights_follow_the_paper_on_full_batches(optimizer: str, floor: float) -> None:
    rng = np.random.default_rng(3)
    steps = 40
    decay = rng.uniform(0.5, 1.5, len(LANGS)) ** np.arange(steps)[:, None] ** 0.3  # different rates
    losses = 1.0 + 4.0 * decay * rng.uniform(0.9, 1.1, (steps, len(LANGS)))
    xis, weights = paper_famo(losses, beta=0.3, gamma=0.01, optimizer=optimizer, floor=floor)
    m = make(logit_lr=0.3, decay=0.01, optimizer=optimizer, loss_floor=floor)
    n_tokens = torch.full((len(LANGS),), 50.0)
    m.observe_losses(0, LANGS, torch.tensor(losses[0]), n_tokens)
    for t in range(1, steps):
        w = m.loss_weights(t, LANGS, n_tokens)  # asked before update t: the latest loss is ℓ(θ_{t-1})
        assert np.allclose(w.numpy(), weights[t - 1], atol=1e-6)
        m.observe_losses(t, LANGS, torch.tensor(losses[t]), n_tokens)
        assert np.allclose(m.xi.numpy(), xis[t - 1], rtol=1e-10, atol=1e-12), t
    assert m.logit_steps == steps - 1
    assert np.ptp(m.z().numpy()) > 0.01  # the weights did move


def test_a_language_whose_loss_falls_slower_gains_weight() -> None:
    m = make(logit_lr=0.05, decay=0.0)
    n = torch.ones(4)
    for t in range(200):
        loss = torch.tensor([3.0 * 0.999**t, 3.0 * 0.99**t, 3.0 * 0.99**t, 3.0 * 0.99**t])
        m.observe_losses(t, LANGS, loss, n)
    z = m.z()
    assert z[0] > 0.5 and torch.allclose(z[1:], z[1:].mean().expand(3))


def test_only_languages_in_both_updates_get_a_rate_with_the_softmax_over_them() -> None:
    m = make(optimizer="sgd", logit_lr=0.5, decay=0.1)
    m.xi = torch.tensor([0.3, -0.2, 0.1, 0.0], dtype=torch.float64)
    m.observe_losses(0, ["aze", "bel", "glg"], torch.tensor([2.0, 3.0, 4.0]), torch.ones(3))
    xi0 = m.xi.clone().numpy()  # the first observation has nothing to compare with ...
    assert np.allclose(xi0, [0.3, -0.2, 0.1, 0.0])
    m.observe_losses(1, ["bel", "glg", "rus"], torch.tensor([2.5, 3.0, 1.0]), torch.ones(3))
    # ... the second compares bel and glg only: the FAMO step of those two tasks, decay on all
    s = [1, 2]
    z = softmax(xi0[s])
    d = np.log([3.0, 4.0]) - np.log([2.5, 3.0])
    g = 0.1 * xi0
    g[s] += (np.diag(z) - np.outer(z, z)).T @ d
    assert np.allclose(m.xi.numpy(), xi0 - 0.5 * g, atol=1e-14)
    assert m.prev_langs == ["bel", "glg", "rus"]


def test_weights_use_the_latest_loss_and_the_batch_mean_for_unseen_languages() -> None:
    m = make()
    w = m.loss_weights(0, ["aze", "rus"], torch.tensor([5.0, 50.0]))
    assert torch.allclose(w, torch.tensor([0.5, 0.5]))  # nothing seen: w ∝ z = uniform
    m.observe_losses(0, ["aze", "bel"], torch.tensor([2.0, 4.0]), torch.ones(2))
    m.xi = torch.tensor([np.log(2.0), 0.0, 0.0, 0.0], dtype=torch.float64)  # z_aze = 2 z_other
    w = m.loss_weights(1, ["aze", "bel", "rus"], torch.ones(3))
    raw = torch.tensor([2.0 / 2.0, 1.0 / 4.0, 1.0 / 3.0])  # rus: the mean (2 + 4) / 2 of those seen
    assert torch.allclose(w, (raw / raw.sum()).float())
    assert w.dtype == torch.float32


def test_non_finite_losses_are_skipped() -> None:
    m = make()
    m.observe_losses(0, LANGS, torch.tensor([2.0, 2.0, 2.0, 2.0]), torch.ones(4))
    m.observe_losses(1, LANGS, torch.tensor([1.0, float("inf"), 1.5, float("nan")]), torch.ones(4))
    assert m.last_loss.tolist() == [1.0, 2.0, 1.5, 2.0]
    assert m.prev_langs == ["aze", "glg"]
    assert bool(m.xi.isfinite().all())


def test_bad_options_name_themselves() -> None:
    for kw, name in [({"optimizer": "adamw"}, "optimizer"), ({"logit_lr": -1.0}, "logit_lr"), ({"decay": float("nan")}, "decay")]:
        with pytest.raises(ValueError, match=name):
            make(**kw)


def test_state_round_trips_and_continues_identically() -> None:
    gen = torch.Generator().manual_seed(0)

    def feed(m: FAMO, steps: range) -> list[torch.Tensor]:
        out = []
        for step in steps:
            k = int(torch.randint(1, 5, (1,), generator=gen))
            langs = [LANGS[i] for i in sorted(torch.randperm(4, generator=gen)[:k].tolist())]
            n = torch.ones(k)
            out.append(m.loss_weights(step, langs, n))
            m.observe_losses(step, langs, torch.rand(k, generator=gen) * 4 + 1, n)
        return out

    original = make()
    feed(original, range(12))
    buf = io.BytesIO()
    torch.save(original.state_dict(), buf)
    buf.seek(0)
    restored = make()
    restored.load_state_dict(torch.load(buf, weights_only=True))
    state = gen.get_state()
    after_original = feed(original, range(12, 40))
    gen.set_state(state)
    after_restored = feed(restored, range(12, 40))
    assert all(torch.equal(a, b) for a, b in zip(after_original, after_restored, strict=True))
    assert torch.equal(original.xi, restored.xi) and original.adam_steps == restored.adam_steps > 5
    assert original.log_values() == restored.log_values()
