"""Learning-rate schedule: linear warm-up, then inverse square root decay (Vaswani et al., 2017;
fairseq's ``inverse_sqrt``), as the paper trains (lr 0.0015, 4000 warm-up updates)."""

from __future__ import annotations

import math


def inverse_sqrt_lr(step: int, peak_lr: float, warmup_steps: int, warmup_init_lr: float) -> float:
    """Learning rate for optimizer update ``step`` (0-based).

    Warm-up rises linearly from ``warmup_init_lr`` to ``peak_lr`` over ``warmup_steps`` updates;
    afterwards ``lr = peak_lr * sqrt(warmup_steps / (step + 1))``.
    """
    n = step + 1
    if warmup_steps > 0 and n <= warmup_steps:
        return warmup_init_lr + (peak_lr - warmup_init_lr) * n / warmup_steps
    return peak_lr * math.sqrt(max(warmup_steps, 1) / n)
