"""torchjd's gradient aggregators behind the catsmt interface (optional: ``pip install catsmt[torchjd]``)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from torch import Tensor, nn

from catsmt.config_fields import option
from catsmt.weighting.base import RunBudget, TaskGradients, Weighting, temperature_option

INSTALL_HINT = "pip install 'catsmt[torchjd]'"


def _canonical(name: str) -> str:
    """``'Aligned-MTL'`` -> ``'alignedmtl'``: case, hyphens and underscores do not matter."""
    return name.lower().replace("-", "").replace("_", "")


def _upgrad(jd: ModuleType, p: TorchJDParams, k: int) -> Any:
    return jd.UPGrad()


def _dualproj(jd: ModuleType, p: TorchJDParams, k: int) -> Any:
    return jd.DualProj()


def _cagrad(jd: ModuleType, p: TorchJDParams, k: int) -> Any:
    return jd.CAGrad(c=p.cagrad_c)


def _nashmtl(jd: ModuleType, p: TorchJDParams, k: int) -> Any:
    return jd.NashMTL(n_tasks=k, max_norm=p.nashmtl_max_norm)


def _alignedmtl(jd: ModuleType, p: TorchJDParams, k: int) -> Any:
    return jd.AlignedMTL()


def _imtlg(jd: ModuleType, p: TorchJDParams, k: int) -> Any:
    return jd.IMTLG()


#: Aggregator name -> (its torchjd class name, a builder from the params and the number of
#: rows K, whether it must be built per call: NashMTL's state is sized by K).
AGGREGATORS: dict[str, tuple[str, Callable[[ModuleType, TorchJDParams, int], Any], bool]] = {
    "alignedmtl": ("AlignedMTL", _alignedmtl, False),
    "cagrad": ("CAGrad", _cagrad, False),
    "dualproj": ("DualProj", _dualproj, False),
    "imtlg": ("IMTLG", _imtlg, False),
    "nashmtl": ("NashMTL", _nashmtl, True),
    "upgrad": ("UPGrad", _upgrad, False),
}


@dataclass
class TorchJDParams:
    aggregator: str = option("upgrad", "the torchjd aggregator applied to the (K, P) per-language gradients: upgrad, dualproj, cagrad, nashmtl, alignedmtl or imtlg (case, '-' and '_' ignored)")
    cagrad_c: float = option(0.5, "CAGrad's c, the radius scale of its ball around the mean gradient (aggregator cagrad only)")
    nashmtl_max_norm: float = option(1.0, "NashMTL's bound on the norm of the aggregated gradient, 0 = none (aggregator nashmtl only; torchjd's default)")
    temperature: float = temperature_option()

    def validate(self) -> None:
        if _canonical(self.aggregator) not in AGGREGATORS:
            raise ValueError(
                f"unknown torchjd aggregator '{self.aggregator}'; valid: {', '.join(sorted(AGGREGATORS))}"
            )
        if not (self.cagrad_c >= 0 and math.isfinite(self.cagrad_c)):
            raise ValueError(f"cagrad_c must be a finite number >= 0, got {self.cagrad_c}")
        if not (self.nashmtl_max_norm >= 0 and math.isfinite(self.nashmtl_max_norm)):
            raise ValueError(f"nashmtl_max_norm must be a finite number >= 0, got {self.nashmtl_max_norm}")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0 (inf for uniform), got {self.temperature}")


def aggregation_module() -> ModuleType:
    """``torchjd.aggregation``, imported on first use.

    Raises:
        ImportError: torchjd (or an aggregator's own dependency) is not installed, naming the
            extra that installs it.
    """
    try:
        from torchjd import aggregation
    except ImportError as e:
        raise ImportError(f"the 'torchjd' weighting method needs the torchjd package: {INSTALL_HINT} ({e})") from e
    return aggregation


def build_aggregator(params: TorchJDParams, k: int) -> Any:
    """The torchjd aggregator that ``params`` names, for a ``(k, P)`` matrix.

    Raises:
        ImportError: torchjd or the aggregator's solver (quadprog for UPGrad and DualProj,
            cvxpy for CAGrad and NashMTL) is missing.
    """
    _, build, _ = AGGREGATORS[_canonical(params.aggregator)]
    try:
        return build(aggregation_module(), params, k)
    except ImportError as e:
        if INSTALL_HINT in str(e):
            raise
        raise ImportError(f"torchjd's {params.aggregator} needs a solver that is not installed: {INSTALL_HINT} ({e})") from e


class TorchJD(Weighting):
    """A gradient aggregator of the torchjd library applied to the per-language gradients.

    Quinton & Rey, 2024, "Jacobian Descent for Multi-Objective Optimization" (torchjd, on
    PyPI), whose aggregators map the ``(K, P)`` matrix of task gradients -- the Jacobian -- to
    one update direction. Offered here: ``upgrad`` and ``dualproj`` (Quinton & Rey, 2024),
    ``cagrad`` (Liu et al., NeurIPS 2021, "Conflict-Averse Gradient Descent"), ``nashmtl``
    (Navon et al., ICML 2022, "Multi-Task Learning as a Bargaining Game"), ``alignedmtl``
    (Senushkin et al., CVPR 2023, "Independent Component Alignment for Multi-Task Learning")
    and ``imtlg`` (Liu et al., ICLR 2021, "Towards Impartial Multi-task Learning").

    Every step the loop's ``TaskGradients.grads`` goes to the aggregator unchanged and its
    output is the update, so the scale is the aggregator's own (UPGrad, DualProj, CAGrad and
    IMTL-G are on the scale of the mean gradient; NashMTL's is clipped to
    ``nashmtl_max_norm``; Aligned-MTL's follows the smallest singular value). The
    aggregator's weights, when it has them, are logged. NashMTL keeps state sized by K and
    warm-starts from its previous weights; since a batch's K languages change from step to
    step (and a resumed run must continue exactly) it is built afresh for each step. catsmt's
    own MGDA (``mgda``) is not routed through torchjd: its exact min-norm solver reached the
    minimum where torchjd's iterative one fell short (issue 18). Languages are sampled by
    temperature. torchjd is imported when the method is built; without it the error names
    ``pip install 'catsmt[torchjd]'``.
    """

    Params = TorchJDParams
    label = "torchjd"

    def __init__(
        self, params: TorchJDParams, langs: Sequence[str], sizes: Mapping[str, int], *, budget: RunBudget | None = None
    ) -> None:
        params.validate()
        super().__init__(params, langs, sizes, budget=budget)
        self.params: TorchJDParams = params
        name = _canonical(params.aggregator)
        self._per_call = AGGREGATORS[name][2]
        self._aggregator = build_aggregator(params, len(self.langs))  # fails early without torchjd
        self._last: dict[str, float] = {}

    def needs_task_grads(self, step: int) -> bool:
        return True

    def aggregator_for(self, k: int) -> Any:
        """The aggregator for a ``(k, P)`` matrix: the one built at the start, or a fresh one
        for aggregators whose state is sized by K (NashMTL)."""
        return build_aggregator(self.params, k) if self._per_call else self._aggregator

    def combine(self, step: int, tasks: TaskGradients) -> Tensor:
        aggregator = self.aggregator_for(len(tasks.langs))
        seen: list[Tensor] = []
        weighting = getattr(aggregator, "weighting", None)
        hook = (
            weighting.register_forward_hook(lambda _m, _inp, out: seen.append(out.detach()))
            if isinstance(weighting, nn.Module) else None
        )
        try:
            out: Tensor = aggregator(tasks.grads)
        finally:
            if hook is not None:
                hook.remove()
        if seen and seen[-1].numel() == len(tasks.langs):
            self._last = {lang: float(w) for lang, w in zip(tasks.langs, seen[-1].double().cpu(), strict=True)}
        return out.to(tasks.grads)

    def state_dict(self) -> dict[str, Any]:
        """Only what is logged: the aggregators are rebuilt or stateless (see the class)."""
        return {"last": dict(self._last)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._last = {str(k): float(v) for k, v in state.get("last", {}).items()}

    def log_values(self) -> dict[str, float]:
        """The aggregator's weight of each language in the last step (when it has weights)."""
        return {f"torchjd/{lang}": v for lang, v in self._last.items()}
