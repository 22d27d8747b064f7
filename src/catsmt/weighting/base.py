"""The one interface every task-weighting method implements.

catsmt treats each language (translation direction) as a task. A weighting method decides
two things, and the training loop asks it both without ever testing its name:

1. **Which data the model sees** -- :meth:`Weighting.sampling_probs`, the probability of
   drawing each language into a batch slot (temperature sampling ``p_n ∝ |D_n|^(1/T)``, or a
   learned distribution such as MultiDDS's).
2. **How the batch's per-language losses or gradients become one update** -- either
   :meth:`Weighting.loss_weights` (one weighted loss, one backward: what temperature sampling
   and CATS's non-meta steps cost) or, on steps where :meth:`Weighting.needs_task_grads` is
   true, :meth:`Weighting.combine`, which receives the per-language gradients and returns
   the gradient to apply (CATS meta steps, PCGrad, GradVac, MGDA, GradNorm, MultiDDS).

The interface uses plain tensors and no catsmt types, so it works in any PyTorch multi-task
loop (see ``docs/weighting.md`` and :func:`catsmt.weighting.grads.task_gradients`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import Tensor

from catsmt.config_fields import option
from catsmt.data.sampling import temperature_probs  # noqa: F401 - re-exported: methods sample by it


@dataclass
class TaskGradients:
    """Per-task gradients of one batch, flattened over the trainable parameters.

    Attributes:
        langs: the K task names, in the order of the rows below.
        losses: ``(K,)`` mean per-token training loss of each task's sub-batch (detached).
        n_tokens: ``(K,)`` number of target tokens behind each loss.
        grads: ``(K, P)`` float32, row k is ``g_k = ∇_θ L_k`` of the per-token mean loss,
            already unscaled (any fp16 loss scale divided out) and, under DDP, averaged over
            ranks so that every rank holds the same matrix.
        param_slices: parameter name -> slice of the flat vector (for per-layer methods such
            as GradNorm, and for the analysis of gradient similarity per parameter group).
        dev_grad: when the loop can provide it, a callable returning ``(P,)`` the gradient of
            the mean development loss (MultiDDS's reward); computed only if called.
    """

    langs: list[str]
    losses: Tensor
    n_tokens: Tensor
    grads: Tensor
    param_slices: dict[str, slice] = field(default_factory=dict)
    dev_grad: Callable[[], Tensor] | None = None

    def gram(self) -> Tensor:
        """``(K, K)`` Gram matrix ``G_ij = g_i · g_j`` in float64 for numerical safety."""
        g = self.grads.double()
        return g @ g.T


#: The help text of the sampling temperature shared by the methods that sample by it.
TEMPERATURE_HELP = "sampling temperature T in p_n ∝ |D_n|^(1/T); 1 = proportional, inf = uniform"


def temperature_option(default: float = 1.0, help: str = TEMPERATURE_HELP) -> Any:  # noqa: A002 - as option()
    """The ``temperature`` field of a method's Params: the one declaration of the sampling
    temperature that :meth:`Weighting.sampling_probs` reads (``p_n ∝ |D_n|^(1/T)``)."""
    return option(default, help)


@dataclass(frozen=True)
class RunBudget:
    """How much training the run plans, for methods that allocate a budget (UniMax).

    Attributes:
        updates: optimizer updates the run will make (``train.max_steps``).
        examples: sentence pairs it will draw over all updates, estimated from the token
            budget per update and the corpus's mean padded pair length.
    """

    updates: int
    examples: int


def token_weights(n_tokens: Tensor) -> Tensor:
    """Weights ``n_k / Σ n`` that make ``Σ w_k L_k`` the token-weighted mean loss of a batch."""
    n = n_tokens.double()
    return (n / n.sum().clamp_min(1.0)).float()


class Weighting:
    """Base class of all weighting methods; subclasses override what differs.

    Subclasses set ``Params`` (their hyperparameter dataclass) and cite their paper in the
    class docstring. The defaults here are those of temperature sampling with a
    token-weighted loss.

    Args:
        params: an instance of the subclass's ``Params``.
        langs: all task names, fixed for the whole run.
        sizes: training examples per task (``|D_n|``), for temperature sampling.
        budget: the run's planned updates and examples, when the loop knows them.
    """

    Params: ClassVar[type] = object
    #: The method's name in tables, figures and benchmarks (``CATS``, ``FAMO``); empty: its
    #: registry name (see :func:`catsmt.weighting.label_of`).
    label: ClassVar[str] = ""
    #: The loop passes ``TaskGradients.dev_grad`` (a closure over a dev batch) only to methods
    #: that set this; building it costs a dev batch per language.
    needs_dev_grad: ClassVar[bool] = False
    #: The loop calls :meth:`observe_losses` after every update only for methods that set this
    #: (under DDP it all-reduces the losses first, one small collective).
    observes_losses: ClassVar[bool] = False

    def __init__(
        self, params: Any, langs: Sequence[str], sizes: Mapping[str, int], *, budget: RunBudget | None = None
    ) -> None:
        if not langs:
            raise ValueError("a weighting method needs at least one task")
        missing = [lang for lang in langs if lang not in sizes]
        if missing:
            raise ValueError(f"no training size given for: {', '.join(missing)}")
        validate = getattr(params, "validate", None)
        if validate is not None:
            validate()
        self.params = params
        self.budget = budget
        self.langs = list(langs)
        self.sizes = {lang: int(sizes[lang]) for lang in langs}
        self.index = {lang: i for i, lang in enumerate(self.langs)}

    def positions(self, langs: Sequence[str]) -> Tensor:
        """Indices of a batch's languages among the run's (each listed once).

        Raises:
            ValueError: an unknown language, or one listed twice.
        """
        unknown = [lang for lang in langs if lang not in self.index]
        if unknown:
            raise ValueError(
                f"unknown language(s) {', '.join(unknown)}; this method was built for {', '.join(self.langs)}"
            )
        if len(set(langs)) != len(langs):
            raise ValueError(f"a batch lists a language twice: {', '.join(langs)}")
        return torch.tensor([self.index[lang] for lang in langs])

    # -- data -------------------------------------------------------------------------
    def sampling_probs(self) -> dict[str, float]:
        """Probability of drawing each language into a batch slot (read by the sampler after
        every step, so it may change during training)."""
        temperature = float(getattr(self.params, "temperature", 1.0))
        return temperature_probs(self.sizes, temperature)

    # -- update -----------------------------------------------------------------------
    def needs_task_grads(self, step: int) -> bool:
        """Whether optimizer step ``step`` (0-based) must call :meth:`combine` with per-task
        gradients; when False the loop calls :meth:`loss_weights` and does one backward."""
        return False

    def loss_weights(self, step: int, langs: Sequence[str], n_tokens: Tensor) -> Tensor:
        """``(K,)`` weights ``w_k`` for the batch's per-task mean losses ``L_k``; the loop
        minimises ``Σ_k w_k L_k``. Default: token-weighted mean of the batch."""
        return token_weights(n_tokens)

    def combine(self, step: int, tasks: TaskGradients) -> Tensor:
        """The ``(P,)`` gradient to apply, from per-task gradients. Called only on steps where
        :meth:`needs_task_grads` is true; may update the method's state."""
        w = self.loss_weights(step, tasks.langs, tasks.n_tokens).to(tasks.grads)
        return w @ tasks.grads

    def observe_losses(self, step: int, langs: Sequence[str], losses: Tensor, n_tokens: Tensor) -> None:
        """After update ``step`` (0-based): the ``(K,)`` per-token training losses of the
        update's languages, measured on its batch before the parameters moved, over all ranks.
        Called only when :attr:`observes_losses` is set; the default does nothing."""

    # -- state and logging -------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly (tensors, numbers, lists, dicts only:
        checkpoints are loaded with ``weights_only=True``)."""
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict`."""

    def log_values(self) -> dict[str, float]:
        """Current weights to log, e.g. ``{"alpha/bel": 0.12}``; empty when there are none."""
        return {}


def check_state_keys(state: Mapping[str, Any], expected: Sequence[str], method: str) -> None:
    """Raise a clear error when a checkpoint's weighting state does not fit ``method``."""
    missing = [k for k in expected if k not in state]
    if missing:
        raise ValueError(
            f"checkpoint weighting state has no {', '.join(missing)} for method '{method}' "
            "(was it saved by another method?)"
        )


def check_state_langs(state: Mapping[str, Any], langs: Sequence[str], method: str) -> None:
    """Raise a clear error when a checkpoint's weighting state is for other languages."""
    saved = list(state.get("langs", langs))
    if saved != list(langs):
        raise ValueError(
            f"checkpoint's {method} state is for languages {', '.join(saved)}, not {', '.join(langs)}"
        )


def as_float_tensor(values: Sequence[float] | Tensor) -> Tensor:
    """A float32 CPU tensor of ``values``."""
    return torch.as_tensor(values, dtype=torch.float32).clone()
