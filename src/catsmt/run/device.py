"""Where a run computes and in which precision: the device and the autocast context.

Shared by training, inference, analysis and the benchmarks, so that ``device=auto`` and
``precision=bf16`` mean the same everywhere.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import torch


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """``auto`` picks the rank's CUDA device when available, else the CPU.

    Raises:
        ValueError: a name torch does not know (``gpu0``), or CUDA on a machine without it;
            the message says which names are valid.
    """
    if name == "auto":
        return torch.device(f"cuda:{local_rank}" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError) as e:
        raise ValueError(f"unknown device '{name}'; use auto, cpu, cuda or cuda:N") from e
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device '{name}' asked for but no CUDA device is available; use cpu")
    return device


def autocast_factory(precision: str, device: torch.device) -> Callable[[], contextlib.AbstractContextManager[None]]:
    """A zero-argument context-manager factory for the configured mixed precision."""
    if precision == "fp32":
        return contextlib.nullcontext
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return lambda: torch.autocast(device_type=device.type, dtype=dtype)
