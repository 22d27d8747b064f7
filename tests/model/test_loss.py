"""Properties of catsmt.model.loss: the label-smoothed loss against its definition."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from catsmt.model import label_smoothed_loss, per_sentence_nll

PAD = 1


def example(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    logits = 3 * torch.randn(3, 5, 11, generator=g)
    target = torch.randint(0, 11, (3, 5), generator=g)
    target[0, 3:] = PAD
    target[2, 1:] = PAD
    target[1, 0] = PAD  # pad inside a sentence is ignored too
    return logits, target


def brute_force(logits: torch.Tensor, target: torch.Tensor, eps: float) -> tuple[float, float, int]:
    """Per token: (1 - eps) * -log p(target) + eps * mean over the vocabulary of -log p."""
    loss = nll = 0.0
    n = 0
    B, T, V = logits.shape
    for b in range(B):
        for t in range(T):
            y = int(target[b, t])
            if y == PAD:
                continue
            z = [float(x) for x in logits[b, t]]
            log_z = math.log(sum(math.exp(x) for x in z))
            lp = [x - log_z for x in z]
            nll += -lp[y]
            loss += (1 - eps) * -lp[y] + eps * sum(-x for x in lp) / V
            n += 1
    return loss, nll, n


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.3])
def test_equals_brute_force_per_token_computation(eps: float) -> None:
    logits, target = example()
    loss, nll, n = label_smoothed_loss(logits, target, PAD, eps)
    ref_loss, ref_nll, ref_n = brute_force(logits, target, eps)
    assert int(n) == ref_n == 8
    assert loss.item() == pytest.approx(ref_loss, rel=1e-5)
    assert nll.item() == pytest.approx(ref_nll, rel=1e-5)


def test_zero_epsilon_is_cross_entropy_and_matches_torch_label_smoothing() -> None:
    logits, target = example(1)
    loss, nll, _ = label_smoothed_loss(logits, target, PAD, 0.0)
    ce = F.cross_entropy(logits.transpose(1, 2), target, ignore_index=PAD, reduction="sum")
    torch.testing.assert_close(loss, ce)
    torch.testing.assert_close(nll, ce)
    smoothed, _, _ = label_smoothed_loss(logits, target, PAD, 0.1)
    torch_smoothed = F.cross_entropy(
        logits.transpose(1, 2), target, ignore_index=PAD, reduction="sum", label_smoothing=0.1
    )
    torch.testing.assert_close(smoothed, torch_smoothed)


def test_pad_positions_do_not_matter() -> None:
    logits, target = example(2)
    loss, nll, n = label_smoothed_loss(logits, target, PAD, 0.1)
    changed = logits.clone()
    changed[target == PAD] = 100 * torch.randn_like(changed[target == PAD])
    loss2, nll2, n2 = label_smoothed_loss(changed, target, PAD, 0.1)
    torch.testing.assert_close((loss, nll, n), (loss2, nll2, n2))
    # and they get no gradient
    logits.requires_grad_(True)
    label_smoothed_loss(logits, target, PAD, 0.1)[0].backward()
    assert logits.grad is not None and torch.all(logits.grad[target == PAD] == 0)


def test_float32_under_bf16_autocast() -> None:
    logits, target = example(3)
    reference, _, _ = label_smoothed_loss(logits, target, PAD, 0.1)
    low = logits.bfloat16().requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss, nll, _ = label_smoothed_loss(low, target, PAD, 0.1)
    assert loss.dtype == nll.dtype == torch.float32
    assert loss.item() == pytest.approx(reference.item(), rel=2e-2)
    loss.backward()
    assert low.grad is not None and low.grad.dtype == torch.bfloat16


def test_per_sentence_nll_sums_to_the_nll() -> None:
    logits, target = example(4)
    per_sentence = per_sentence_nll(logits, target, PAD)
    assert per_sentence.shape == (3,)
    _, nll, _ = label_smoothed_loss(logits, target, PAD, 0.2)
    torch.testing.assert_close(per_sentence.sum(), nll)
    _, first, _ = label_smoothed_loss(logits[:1], target[:1], PAD, 0.0)
    torch.testing.assert_close(per_sentence[0], first)


def test_bad_input_is_rejected() -> None:
    logits, target = example()
    with pytest.raises(ValueError, match="epsilon"):
        label_smoothed_loss(logits, target, PAD, 1.0)
    with pytest.raises(ValueError, match="do not match"):
        label_smoothed_loss(logits, target[:, :2], PAD, 0.1)
