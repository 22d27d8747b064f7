"""Static temperature sampling, the standard multilingual baseline."""

from __future__ import annotations

from dataclasses import dataclass

from catsmt.weighting.base import Weighting, temperature_option


@dataclass
class TemperatureParams:
    temperature: float = temperature_option()


class Temperature(Weighting):
    """Temperature-based sampling with the token-weighted loss (Arivazhagan et al., 2019,
    "Massively Multilingual NMT in the Wild"; the paper's T = 1, 5 and inf baselines).

    The sampling distribution ``p_n ∝ |D_n|^(1/T)`` is the only thing that changes between
    T = 1, 5 and inf; every step is one weighted loss and one backward.
    """

    Params = TemperatureParams
    label = "Temperature"
