"""The ``weighting`` config section: a method name plus that method's own hyperparameters.

In YAML the section is flat::

    weighting:
      method: cats
      alpha_lr: 0.1
      update_every: [[8000, 10], [0, 1000]]

and the keys besides ``method`` are checked against the method's hyperparameter dataclass.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any


@dataclasses.dataclass
class WeightingConfig:
    """Which weighting method trains the model, and its hyperparameters."""

    method: str = dataclasses.field(
        default="temperature", metadata={"help": "weighting method; see `catsmt methods`"}
    )
    params: Any = None

    def __post_init__(self) -> None:
        if self.params is None:
            from catsmt.weighting import get_method

            self.params = get_method(self.method).Params()

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], section: str = "weighting") -> WeightingConfig:
        from catsmt.config_fields import ConfigError, from_dict
        from catsmt.weighting import get_method

        data = dict(data)
        method = str(data.pop("method", cls.method))
        try:
            method_cls = get_method(method)
        except KeyError as e:
            raise ConfigError(f"{section}.method: {e.args[0]}") from e
        params: Any = from_dict(method_cls.Params, data, f"{section} (method '{method}')")
        return cls(method=method, params=params)

    def to_mapping(self) -> dict[str, Any]:
        from catsmt.config_fields import to_dict

        return {"method": self.method, **to_dict(self.params)}
