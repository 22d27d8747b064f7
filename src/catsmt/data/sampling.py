"""The temperature sampling distribution over languages: one definition, used by the data
(the vocabulary's per-language sample) and by the weighting methods (which languages fill a
batch)."""

from __future__ import annotations

from collections.abc import Mapping


def temperature_probs(sizes: Mapping[str, int], temperature: float) -> dict[str, float]:
    """Temperature sampling distribution ``p_n ∝ |D_n|^(1/T)`` (Arivazhagan et al., 2019).

    ``T = 1`` is proportional to data size, ``T = inf`` uniform.

    Raises:
        ValueError: a non-positive temperature or a language without data.
    """
    if not temperature > 0:
        raise ValueError(f"sampling temperature must be > 0 (use inf for uniform), got {temperature}")
    empty = [k for k, v in sizes.items() if v <= 0]
    if empty:
        raise ValueError(f"languages without training data: {', '.join(empty)}")
    exponent = 0.0 if temperature == float("inf") else 1.0 / temperature
    raw = {k: float(v) ** exponent for k, v in sizes.items()}
    total = sum(raw.values())
    return {k: v / total for k, v in raw.items()}
