"""Local curvature of a loss: Hessian-vector products, top eigenvalue, empirical Fisher trace.

The paper measures sharpness with the top eigenvalue ``λ_max`` of the Hessian
``H = ∇²L_n(θ)`` of one language's loss on a mini-batch (Section 4.1, "Evaluation of
Optimization"; Figure 2, top), and CATS regularizes the trace of the empirical Fisher
``tr(F) = E‖g‖²`` as a cheap proxy for ``tr(H)`` (Section 3.3, Eq. 3).

Everything here is model-agnostic: a function takes ``loss_fn``, a closure that computes a
scalar loss on a *fixed* batch, and the list of parameters to differentiate. Vectors are
flat, in the order of ``params`` (the layout of :func:`catsmt.weighting.grads.flat_grad`).
Wrap the measurement in :func:`measurement_mode` so that dropout is off, the weights are
fp32 and attention is differentiable twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

LossFn = Callable[[], Tensor]


@dataclass
class EigenResult:
    """Outcome of :func:`top_eigenvalue`.

    Attributes:
        value: the eigenvalue estimate (a Rayleigh quotient ``vᵀHv``).
        vector: ``(P,)`` unit-norm eigenvector estimate, detached, in the parameters' dtype.
        iterations: Hessian-vector products spent.
        converged: whether the relative change of ``value`` fell below ``tol``.
    """

    value: float
    vector: Tensor
    iterations: int
    converged: bool


def flatten(tensors: Sequence[Tensor | None], like: Sequence[Tensor]) -> Tensor:
    """Concatenate ``tensors`` into one flat vector; a ``None`` becomes zeros shaped as in ``like``."""
    return torch.cat(
        [
            (t if t is not None else torch.zeros_like(p)).reshape(-1)
            for t, p in zip(tensors, like, strict=True)
        ]
    )


def unflatten(vec: Tensor, like: Sequence[Tensor]) -> list[Tensor]:
    """Split a flat vector into views shaped like ``like`` (the inverse of :func:`flatten`).

    Raises:
        ValueError: ``vec`` does not have exactly as many entries as ``like``.
    """
    total = sum(p.numel() for p in like)
    if vec.dim() != 1 or vec.numel() != total:
        raise ValueError(f"vector of shape {tuple(vec.shape)} does not match {total} parameter entries")
    out, offset = [], 0
    for p in like:
        out.append(vec[offset : offset + p.numel()].view_as(p))
        offset += p.numel()
    return out


class HessianOperator:
    """``v ↦ Hv`` for the Hessian of ``loss_fn`` at the current parameters.

    The loss and its gradient (with ``create_graph=True``) are computed once, at
    construction; each :meth:`matvec` is then one more backward pass through that graph
    (Pearlmutter's double-backward trick), so a power iteration of ``m`` steps costs one
    forward, one backward and ``m`` double backwards, each about 1.5 forward+backward passes
    (20 steps cost about 30 forward+backward passes on a 1M-parameter MLP, on CPU; running
    the forward again for every product costs about 45). Do not change the parameters while
    the operator is alive.

    Args:
        loss_fn: closure returning the scalar loss on a fixed batch.
        params: the parameters ``θ`` (the Hessian is ``∂²L/∂θ²`` over all of them together).
    """

    def __init__(self, loss_fn: LossFn, params: Sequence[Tensor]) -> None:
        self.params = list(params)
        if not self.params:
            raise ValueError("no parameters to differentiate")
        self.dim = sum(p.numel() for p in self.params)
        loss = loss_fn()
        if loss.dim() != 0:
            raise ValueError(f"loss_fn must return a scalar, got shape {tuple(loss.shape)}")
        grads = torch.autograd.grad(loss, self.params, create_graph=True, allow_unused=True)
        # Gradients that do not depend on θ (unused parameters, parts linear in θ) have zero
        # Hessian rows; only the others take part in the double backward.
        self._live = [i for i, g in enumerate(grads) if g is not None and g.requires_grad]
        self._grads = [grads[i] for i in self._live]
        self.loss = loss.detach()
        self.grad = flatten([None if g is None else g.detach() for g in grads], self.params)

    def matvec(self, vec: Tensor) -> Tensor:
        """``(P,)`` Hessian-vector product ``H vec``."""
        chunks = unflatten(vec.to(self.grad.dtype), self.params)
        out: list[Tensor | None] = [None] * len(self.params)
        if self._live:
            hv = torch.autograd.grad(
                self._grads,
                [self.params[i] for i in self._live],
                grad_outputs=[chunks[i] for i in self._live],
                retain_graph=True,
                allow_unused=True,
            )
            for i, h in zip(self._live, hv, strict=True):
                out[i] = h
        return flatten(out, self.params).detach()


def hvp(loss_fn: LossFn, params: Sequence[Tensor], vec: Tensor) -> Tensor:
    """Hessian-vector product ``∇²L(θ) v`` by double backward (no Hessian is formed).

    Args:
        loss_fn: closure returning the scalar loss on a fixed batch.
        params: the parameters ``θ``.
        vec: ``(P,)`` flat direction, in the order of ``params``.

    Returns:
        ``(P,)`` flat ``Hv``, detached.
    """
    return HessianOperator(loss_fn, params).matvec(vec)


def _random_unit(dim: int, like: Tensor, seed: int) -> Tensor:
    gen = torch.Generator(device="cpu").manual_seed(seed)
    v = torch.randn(dim, generator=gen, dtype=torch.float64).to(like.device, like.dtype)
    return v / v.norm()


def _power_iteration(
    op: HessianOperator, iters: int, tol: float, seed: int, shift: float = 0.0
) -> EigenResult:
    """Power iteration on ``H - shift·I``; ``value`` is the Rayleigh quotient of ``H`` itself."""
    v = _random_unit(op.dim, op.grad, seed)
    value, converged, done = 0.0, False, 0
    for done in range(1, iters + 1):
        hv = op.matvec(v)
        new = float(torch.dot(v, hv))  # Rayleigh quotient vᵀHv of the unit vector v
        w = hv - shift * v if shift else hv
        norm = w.norm()
        if norm == 0:  # v lies in the null space: H - shift·I vanishes on it
            value, converged = new, True
            break
        v = w / norm
        if done > 1 and abs(new - value) <= tol * (abs(value) + 1e-12):
            value, converged = new, True
            break
        value = new
    return EigenResult(value=value, vector=v, iterations=done, converged=converged)


def top_eigenvalue(
    loss_fn: LossFn,
    params: Sequence[Tensor],
    iters: int = 20,
    tol: float = 1e-3,
    seed: int = 0,
    which: Literal["magnitude", "largest"] = "magnitude",
) -> EigenResult:
    """Top Hessian eigenvalue ``λ_max`` by power iteration on Hessian-vector products.

    Power iteration converges to the eigenvalue of largest *magnitude*, ``λ_|max|``. This
    is what the paper plots as ``λ_max`` in Figure 2: its LoRes curve goes negative, which
    only a largest-magnitude estimate (power iteration, as in PyHessian) can do; near a
    saddle the most negative direction dominates. The algebraic largest eigenvalue equals
    ``λ_|max|`` whenever
    ``λ_|max| ≥ 0``. With ``which="largest"`` a negative ``λ_|max| = λ_min`` triggers a
    second power iteration on ``H - λ_min·I`` (all of whose eigenvalues are ``≥ 0``), whose
    dominant eigenvalue plus ``λ_min`` is the algebraic ``λ_max``. See also
    :func:`lanczos_eigenvalues`, which gives both ends of the spectrum at once.

    The estimate converges as ``(λ₂/λ₁)^(2k)`` after ``k`` steps; ``converged=False`` means
    the relative change was still above ``tol`` after ``iters`` steps.

    Args:
        loss_fn: closure returning the scalar loss on a fixed batch (deterministic: run it
            under :func:`measurement_mode`).
        params: the parameters ``θ``.
        iters: most Hessian-vector products per power iteration.
        tol: stop when ``|λ_k − λ_{k−1}| ≤ tol·|λ_{k−1}|``.
        seed: seed of the random start vector.
        which: ``"magnitude"`` (paper, PyHessian) or ``"largest"`` (algebraic ``λ_max``).

    Returns:
        :class:`EigenResult`; ``iterations`` counts the products over both runs.

    Raises:
        ValueError: ``iters < 1`` or an unknown ``which``.
    """
    if iters < 1:
        raise ValueError(f"iters must be >= 1, got {iters}")
    if which not in ("magnitude", "largest"):
        raise ValueError(f"which must be 'magnitude' or 'largest', got '{which}'")
    op = HessianOperator(loss_fn, params)
    first = _power_iteration(op, iters, tol, seed)
    if which == "magnitude" or first.value >= 0:
        return first
    shifted = _power_iteration(op, iters, tol, seed + 1, shift=first.value)
    return EigenResult(
        value=shifted.value,
        vector=shifted.vector,
        iterations=first.iterations + shifted.iterations,
        converged=first.converged and shifted.converged,
    )


def lanczos_eigenvalues(
    loss_fn: LossFn, params: Sequence[Tensor], iters: int = 30, seed: int = 0
) -> Tensor:
    """Ritz values of the Hessian from ``iters`` steps of Lanczos (full reorthogonalization).

    The extreme Ritz values converge much faster than power iteration: ``out[0] ≈ λ_min``
    and ``out[-1] ≈ λ_max`` (algebraic). Costs ``iters`` Hessian-vector products and keeps
    ``iters`` vectors of size ``P`` in memory.

    Returns:
        ``(m,)`` float64 Ritz values in ascending order, ``m ≤ iters`` (fewer when the
        Krylov space is exhausted early).
    """
    if iters < 1:
        raise ValueError(f"iters must be >= 1, got {iters}")
    op = HessianOperator(loss_fn, params)
    v = _random_unit(op.dim, op.grad, seed)
    basis: list[Tensor] = []
    alphas: list[float] = []
    betas: list[float] = []
    for _ in range(min(iters, op.dim)):
        basis.append(v)
        w = op.matvec(v)
        alpha = float(torch.dot(w, v))
        alphas.append(alpha)
        q = torch.stack(basis)  # (m, P)
        w = w - q.T @ (q @ w)  # full reorthogonalization, twice for stability
        w = w - q.T @ (q @ w)
        beta = float(w.norm())
        if beta <= 1e-10 * max(1.0, abs(alpha)):
            break
        betas.append(beta)
        v = w / beta
    m = len(alphas)
    t = torch.diag(torch.tensor(alphas, dtype=torch.float64))
    if m > 1:
        off = torch.tensor(betas[: m - 1], dtype=torch.float64)
        t = t + torch.diag(off, 1) + torch.diag(off, -1)
    return torch.linalg.eigvalsh(t)


def fisher_trace(
    grads: Tensor | Sequence[LossFn], params: Sequence[Tensor] | None = None
) -> float:
    """Empirical Fisher trace ``tr(F) = E‖g‖²`` (Section 3.3; CATS's proxy for ``tr(H)``).

    Per-example gradients give the empirical Fisher proper; per-batch (e.g. per-language)
    gradients give a mini-batch estimate, smaller by the averaging inside each batch. Eq. (3)
    applies the same norm to the α-weighted sum of the language gradients.

    Args:
        grads: either a ``(K, P)`` matrix whose rows are gradients, or ``K`` loss closures
            (one per example or batch), whose gradients are computed one at a time so that
            no ``(K, P)`` matrix is formed.
        params: the parameters to differentiate; required with loss closures.

    Returns:
        ``(1/K) Σ_k ‖g_k‖²``, accumulated in float64.

    Raises:
        ValueError: no gradients, a matrix that is not 2-D, or closures without ``params``.
    """
    if isinstance(grads, Tensor):
        if grads.dim() != 2 or grads.shape[0] == 0:
            raise ValueError(f"expected a (K, P) gradient matrix with K >= 1, got shape {tuple(grads.shape)}")
        return float(grads.double().pow(2).sum() / grads.shape[0])
    if len(grads) == 0:
        raise ValueError("fisher_trace needs at least one loss closure")
    if not params:
        raise ValueError("fisher_trace needs `params` to differentiate the loss closures")
    params = list(params)
    total = 0.0
    for loss_fn in grads:
        gs = torch.autograd.grad(loss_fn(), params, allow_unused=True)
        total += sum(float(g.double().pow(2).sum()) for g in gs if g is not None)
    return total / len(grads)


@contextmanager
def measurement_mode(module: nn.Module, dtype: torch.dtype = torch.float32) -> Iterator[nn.Module]:
    """Put ``module`` in a state fit for curvature measurements, and restore it afterwards.

    Inside the block the module is in eval mode (no dropout, so ``loss_fn`` is the same
    function at every Hessian-vector product), its floating-point parameters and buffers are
    in ``dtype``, autocast is disabled, any ``.grad`` is set aside (so that the measurement
    neither sees nor disturbs the training gradients), and, when the module has a
    ``math_attention()`` context manager, attention uses plain ops (fused attention has no
    double backward). Afterwards the training flag, dtypes and gradients are restored; the
    parameter objects are the same, so an optimizer's references stay valid.

    Casting fp16/bf16 weights to fp32 and back is exact; do not pass a ``dtype`` narrower
    than the module's weights.
    """
    was_training = module.training
    tensors: list[Tensor] = [*module.parameters(), *module.buffers()]
    dtypes = [t.dtype for t in tensors]
    saved_grads = [p.grad for p in module.parameters()]
    device = next(iter(tensors)).device if tensors else torch.device("cpu")
    try:
        for p in module.parameters():
            p.grad = None
        for t in tensors:
            if t.is_floating_point() and t.dtype != dtype:
                t.data = t.data.to(dtype)
        module.eval()
        with ExitStack() as stack:
            if device.type in ("cpu", "cuda"):
                stack.enter_context(torch.autocast(device_type=device.type, enabled=False))
            math_attention = getattr(module, "math_attention", None)
            if callable(math_attention):
                stack.enter_context(math_attention())
            yield module
    finally:
        for t, dt in zip(tensors, dtypes, strict=True):
            if t.dtype != dt:
                t.data = t.data.to(dt)
        for p, g in zip(module.parameters(), saved_grads, strict=True):
            p.grad = g
        module.train(was_training)

