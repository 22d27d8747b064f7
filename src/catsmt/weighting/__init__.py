"""Task-weighting methods: one file, one class and one hyperparameter dataclass each.

The registry below is the single list of methods; the CLI's choices and config validation
read it.
"""

from __future__ import annotations

from catsmt.weighting.base import (
    RunBudget,
    TaskGradients,
    Weighting,
    temperature_probs,
    token_weights,
)
from catsmt.weighting.cats import CATS
from catsmt.weighting.dro import DRO
from catsmt.weighting.famo import FAMO
from catsmt.weighting.gradnorm import GradNorm
from catsmt.weighting.gradvac import GradVac
from catsmt.weighting.mgda import MGDA
from catsmt.weighting.multidds import MultiDDS
from catsmt.weighting.pcgrad import PCGrad
from catsmt.weighting.temperature import Temperature
from catsmt.weighting.torchjd import TorchJD
from catsmt.weighting.unimax import UniMax

WEIGHTINGS: dict[str, type[Weighting]] = {
    "cats": CATS,
    "dro": DRO,
    "famo": FAMO,
    "gradnorm": GradNorm,
    "gradvac": GradVac,
    "mgda": MGDA,
    "multidds": MultiDDS,
    "pcgrad": PCGrad,
    "temperature": Temperature,
    "torchjd": TorchJD,
    "unimax": UniMax,
}


def get_method(name: str) -> type[Weighting]:
    """The weighting class registered as ``name``.

    Raises:
        KeyError: with the list of valid names.
    """
    try:
        return WEIGHTINGS[name]
    except KeyError:
        raise KeyError(
            f"unknown weighting method '{name}'; valid methods: {', '.join(sorted(WEIGHTINGS))}"
        ) from None


def label_of(name: str) -> str:
    """The name of registered method ``name`` in tables and figures: its class's ``label``,
    or ``name`` itself when the class has none.

    Raises:
        KeyError: an unregistered name, with the list of valid ones.
    """
    return get_method(name).label or name


def register(name: str, cls: type[Weighting]) -> None:
    """Add a method from outside catsmt (a plugin). Registering a name twice is an error."""
    if name in WEIGHTINGS:
        raise ValueError(f"weighting method '{name}' is already registered")
    WEIGHTINGS[name] = cls


__all__ = [
    "WEIGHTINGS",
    "RunBudget",
    "TaskGradients",
    "Weighting",
    "get_method",
    "label_of",
    "register",
    "temperature_probs",
    "token_weights",
]
