from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
import torch
from torch import Tensor, nn
from torch.autograd.functional import hessian

from catsmt.analysis.curvature import (
    fisher_trace,
    flatten,
    hvp,
    lanczos_eigenvalues,
    measurement_mode,
    top_eigenvalue,
    unflatten,
)


def tiny_mlp(seed: int = 0) -> tuple[list[Tensor], Callable[[Tensor], Tensor]]:
    """A 3-4-2 tanh MLP with a cross-entropy loss on a fixed batch, in float64.

    Returns the parameters and ``loss(theta_flat)``; ``lambda: loss(flatten(params))`` is
    the closure form the analysis functions take.
    """
    gen = torch.Generator().manual_seed(seed)
    shapes = [(4, 3), (4,), (2, 4), (2,)]
    params = [torch.randn(s, generator=gen, dtype=torch.float64, requires_grad=True) for s in shapes]
    x = torch.randn(8, 3, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 2, (8,), generator=gen)

    def loss(theta: Tensor) -> Tensor:
        w1, b1, w2, b2 = unflatten(theta, params)
        h = torch.tanh(x @ w1.T + b1)
        return nn.functional.cross_entropy(h @ w2.T + b2, y)

    return params, loss


def closure(params: list[Tensor], loss: Callable[[Tensor], Tensor]) -> Callable[[], Tensor]:
    return lambda: loss(torch.cat([p.reshape(-1) for p in params]))


def quadratic(eigenvalues: list[float], seed: int = 0) -> tuple[Tensor, Tensor]:
    """``A = Q diag(eigenvalues) Qᵀ`` with a random rotation ``Q``, and a parameter ``x``."""
    gen = torch.Generator().manual_seed(seed)
    n = len(eigenvalues)
    q, _ = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=torch.float64))
    a = q @ torch.diag(torch.tensor(eigenvalues, dtype=torch.float64)) @ q.T
    x = torch.randn(n, generator=gen, dtype=torch.float64, requires_grad=True)
    return a, x


def test_hvp_matches_central_differences_of_gradients() -> None:
    params, loss = tiny_mlp()
    fn = closure(params, loss)
    v = torch.randn(sum(p.numel() for p in params), generator=torch.Generator().manual_seed(1), dtype=torch.float64)

    def grad_at(shift: Tensor) -> Tensor:
        with torch.no_grad():
            for p, d in zip(params, unflatten(shift, params), strict=True):
                p.add_(d)
        g = flatten(torch.autograd.grad(fn(), params), params)
        with torch.no_grad():
            for p, d in zip(params, unflatten(shift, params), strict=True):
                p.sub_(d)
        return g

    eps = 1e-5
    fd = (grad_at(eps * v) - grad_at(-eps * v)) / (2 * eps)
    torch.testing.assert_close(hvp(fn, params, v), fd, rtol=1e-6, atol=1e-8)


def test_hvp_matches_explicit_hessian_and_handles_unused_parameters() -> None:
    params, loss = tiny_mlp()
    unused = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    theta = torch.cat([p.detach().reshape(-1) for p in params])
    h = hessian(loss, theta)
    v = torch.randn(theta.numel() + 3, dtype=torch.float64)
    out = hvp(closure(params, loss), [*params, unused], v)
    torch.testing.assert_close(out[:-3], h @ v[:-3])
    assert torch.equal(out[-3:], torch.zeros(3, dtype=torch.float64))


def test_hvp_rejects_a_vector_of_the_wrong_size() -> None:
    params, loss = tiny_mlp()
    with pytest.raises(ValueError, match="does not match"):
        hvp(closure(params, loss), params, torch.zeros(5, dtype=torch.float64))


def test_power_iteration_finds_top_eigenvalue_of_a_small_models_hessian() -> None:
    params, loss = tiny_mlp()
    theta = torch.cat([p.detach().reshape(-1) for p in params])
    eig = torch.linalg.eigvalsh(hessian(loss, theta))
    expected = float(eig[eig.abs().argmax()])
    result = top_eigenvalue(closure(params, loss), params, iters=500, tol=1e-10)
    assert result.converged
    assert result.value == pytest.approx(expected, rel=1e-6)
    # The returned vector is a unit eigenvector: H v ≈ λ v.
    assert float(result.vector.norm()) == pytest.approx(1.0)
    torch.testing.assert_close(
        hvp(closure(params, loss), params, result.vector), expected * result.vector, rtol=0, atol=1e-4
    )


def test_power_iteration_on_a_quadratic_finds_the_largest_magnitude_eigenvalue() -> None:
    a, x = quadratic([-5.0, 0.5, 1.0, 2.0, 3.0])
    fn = lambda: 0.5 * x @ a @ x  # noqa: E731  (Hessian = A exactly)
    magnitude = top_eigenvalue(fn, [x], iters=500, tol=1e-12)
    assert magnitude.value == pytest.approx(-5.0, rel=1e-8)
    largest = top_eigenvalue(fn, [x], iters=500, tol=1e-12, which="largest")
    assert largest.value == pytest.approx(3.0, rel=1e-6)
    assert largest.iterations > magnitude.iterations


def test_power_iteration_on_a_psd_quadratic_gives_lambda_max() -> None:
    a, x = quadratic([0.1, 0.5, 1.0, 4.0])
    fn = lambda: 0.5 * x @ a @ x  # noqa: E731
    for which in ("magnitude", "largest"):
        result = top_eigenvalue(fn, [x], iters=200, tol=1e-12, which=which)
        assert result.value == pytest.approx(4.0, rel=1e-8)


def test_power_iteration_reports_non_convergence_and_is_seeded() -> None:
    a, x = quadratic([1.0, 0.99, 0.98])  # tiny spectral gap: 3 steps cannot converge
    fn = lambda: 0.5 * x @ a @ x  # noqa: E731
    r1 = top_eigenvalue(fn, [x], iters=3, tol=1e-12, seed=7)
    r2 = top_eigenvalue(fn, [x], iters=3, tol=1e-12, seed=7)
    assert not r1.converged and r1.iterations == 3
    assert r1.value == r2.value
    with pytest.raises(ValueError, match="iters"):
        top_eigenvalue(fn, [x], iters=0)


def test_lanczos_gives_both_ends_of_the_spectrum() -> None:
    a, x = quadratic([-5.0, 0.5, 1.0, 2.0, 3.0, 7.5])
    ritz = lanczos_eigenvalues(lambda: 0.5 * x @ a @ x, [x], iters=6)
    torch.testing.assert_close(ritz, torch.tensor([-5.0, 0.5, 1.0, 2.0, 3.0, 7.5], dtype=torch.float64))


def test_fisher_trace_is_the_mean_squared_gradient_norm() -> None:
    params, _ = tiny_mlp()
    gen = torch.Generator().manual_seed(3)
    xs = torch.randn(5, 3, generator=gen, dtype=torch.float64)
    ys = torch.randint(0, 2, (5,), generator=gen)

    def example_loss(k: int) -> Callable[[], Tensor]:
        def fn() -> Tensor:
            w1, b1, w2, b2 = params
            logits = torch.tanh(xs[k : k + 1] @ w1.T + b1) @ w2.T + b2
            return nn.functional.cross_entropy(logits, ys[k : k + 1])

        return fn

    loss_fns = [example_loss(k) for k in range(5)]
    rows = torch.stack([flatten(torch.autograd.grad(fn(), params), params) for fn in loss_fns])
    brute = sum(float(r @ r) for r in rows) / 5
    assert fisher_trace(loss_fns, params) == pytest.approx(brute, rel=1e-12)
    assert fisher_trace(rows) == pytest.approx(brute, rel=1e-12)
    with pytest.raises(ValueError, match="params"):
        fisher_trace(loss_fns)
    with pytest.raises(ValueError, match=r"\(K, P\)"):
        fisher_trace(torch.zeros(3))


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(3, 2)
        self.drop = nn.Dropout(0.5)
        self.register_buffer("count", torch.zeros((), dtype=torch.long))
        self.math_entered = False

    @contextmanager
    def math_attention(self) -> Iterator[None]:
        self.math_entered = True
        try:
            yield
        finally:
            self.math_entered = False

    def forward(self, x: Tensor) -> Tensor:
        return self.drop(self.lin(x))


def test_measurement_mode_sets_eval_fp32_math_attention_and_restores() -> None:
    net = Net().to(torch.bfloat16)
    net.train()
    weight = net.lin.weight
    before = weight.detach().clone()
    grad = torch.ones_like(weight)
    weight.grad = grad
    with measurement_mode(net) as m:
        assert m is net and not net.training and net.math_entered
        assert net.lin.weight.dtype == torch.float32 and net.lin.weight.grad is None
        assert net.count.dtype == torch.long
        x = torch.randn(4, 3)
        torch.testing.assert_close(net(x), net(x))  # no dropout
        top_eigenvalue(lambda: net(x).pow(2).sum(), list(net.parameters()), iters=3)
    assert net.training and not net.math_entered
    assert net.lin.weight is weight and weight.dtype == torch.bfloat16
    assert torch.equal(weight.detach(), before)
    assert weight.grad is grad


def test_measurement_mode_restores_on_error() -> None:
    net = Net().to(torch.float16)
    net.train()
    with pytest.raises(RuntimeError), measurement_mode(net):
        raise RuntimeError("boom")
    assert net.training and net.lin.weight.dtype == torch.float16


def test_on_the_transformer_under_measurement_mode() -> None:
    transformer = pytest.importorskip("catsmt.model.transformer")
    from catsmt.model.config import ModelConfig

    torch.manual_seed(0)
    cfg = ModelConfig(layers=1, dim=16, ffn_dim=32, heads=2, dropout=0.3, attention="sdpa")
    model = transformer.Transformer(cfg, 20, 0)
    model.train()
    src = torch.randint(1, 20, (3, 5))
    tgt = torch.randint(1, 20, (3, 5))
    with measurement_mode(model, dtype=torch.float64):
        assert model.attention == "math"
        params = [p for p in model.parameters() if p.requires_grad]

        def loss_fn() -> Tensor:
            logits = model(src, tgt[:, :-1])  # (B, T, V)
            return nn.functional.cross_entropy(logits.flatten(0, 1), tgt[:, 1:].flatten())

        n = sum(p.numel() for p in params)
        gen = torch.Generator().manual_seed(1)
        u, v = (torch.randn(n, generator=gen, dtype=torch.float64) for _ in range(2))
        # The Hessian is symmetric: uᵀ(Hv) = vᵀ(Hu).
        assert float(u @ hvp(loss_fn, params, v)) == pytest.approx(float(v @ hvp(loss_fn, params, u)), rel=1e-8)
        result = top_eigenvalue(loss_fn, params, iters=5)
        assert torch.isfinite(torch.tensor(result.value))
    assert model.training and model.attention == "sdpa"
    assert all(p.dtype == torch.float32 for p in model.parameters())
