"""What several subcommands share: the usage error, and checks of ``--device`` and ``--threads``."""

from __future__ import annotations


class UsageError(Exception):
    """A command-line mistake: reported as ``catsmt: error: ...`` with exit code 2."""


def check_device(name: str) -> None:
    """Refuse an unknown or unavailable ``--device`` before any model is loaded."""
    from catsmt.run.device import resolve_device

    try:
        resolve_device(name)
    except ValueError as e:
        raise UsageError(f"--device {name}: {e}") from e


def set_threads(n: int) -> None:
    """Use ``n`` CPU threads for torch (0 = torch's default).

    Raises:
        UsageError: ``n < 0``.
    """
    if n < 0:
        raise UsageError(f"--threads must be >= 0, got {n}")
    if n:
        import torch

        torch.set_num_threads(n)
