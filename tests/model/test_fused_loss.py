"""catsmt.model.fused_loss against the plain label-smoothed loss on materialised logits."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from catsmt.model.fused_loss import fused_label_smoothed_loss
from catsmt.model.loss import label_smoothed_loss

PAD = 0


def inputs(dtype: torch.dtype = torch.float64, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    hidden = torch.randn(3, 7, 16, generator=g, dtype=dtype, requires_grad=True)
    weight = torch.randn(29, 16, generator=g, dtype=dtype, requires_grad=True)
    target = torch.randint(1, 29, (3, 7), generator=g)
    target[0, 5:] = PAD
    target[2, 2:] = PAD
    return hidden, weight, target


@pytest.mark.parametrize("epsilon", [0.0, 0.1, 0.5])
@pytest.mark.parametrize("chunk", [1, 4, 1000])
def test_fused_loss_and_gradients_equal_the_plain_path(epsilon: float, chunk: int) -> None:
    hidden, weight, target = inputs()
    want = label_smoothed_loss(F.linear(hidden, weight), target, PAD, epsilon)
    (want[0] + 0.3 * want[1]).backward()
    want_grads = hidden.grad.clone(), weight.grad.clone()
    hidden.grad = weight.grad = None
    got = fused_label_smoothed_loss(hidden, weight, target, PAD, epsilon, chunk)
    (got[0] + 0.3 * got[1]).backward()
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b)
    torch.testing.assert_close(hidden.grad, want_grads[0])
    torch.testing.assert_close(weight.grad, want_grads[1])
    assert hidden.grad[target == PAD].abs().max() == 0


def test_fused_gradient_matches_finite_differences() -> None:
    g = torch.Generator().manual_seed(1)
    hidden = torch.randn(2, 4, 5, generator=g, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(7, 5, generator=g, dtype=torch.float64, requires_grad=True)
    target = torch.tensor([[1, 2, 3, PAD], [6, 5, PAD, PAD]])
    torch.autograd.gradcheck(
        lambda h, w: fused_label_smoothed_loss(h, w, target, PAD, 0.1, 5)[0], (hidden, weight)
    )


def test_fused_loss_under_bf16_autocast_matches_the_plain_path() -> None:
    hidden, weight, target = inputs(torch.float32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        want = label_smoothed_loss(F.linear(hidden, weight), target, PAD, 0.1)
        got = fused_label_smoothed_loss(hidden, weight, target, PAD, 0.1, 4)
    assert got[0].dtype == torch.float32
    torch.testing.assert_close(got[0], want[0], rtol=1e-3, atol=1e-3)
    (gh,) = torch.autograd.grad(got[0], hidden)
    (wh,) = torch.autograd.grad(want[0], hidden)
    torch.testing.assert_close(gh, wh, rtol=2e-2, atol=2e-2)


def test_fused_loss_rejects_bad_arguments() -> None:
    hidden, weight, target = inputs()
    with pytest.raises(ValueError, match="epsilon"):
        fused_label_smoothed_loss(hidden, weight, target, PAD, 1.0)
    with pytest.raises(ValueError, match="does not match"):
        fused_label_smoothed_loss(hidden, weight, target[:, :3], PAD, 0.1)
    with pytest.raises(ValueError, match="chunk"):
        fused_label_smoothed_loss(hidden, weight, target, PAD, 0.1, 0)
