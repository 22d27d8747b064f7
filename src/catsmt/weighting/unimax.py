"""UniMax: a uniform budget per language, capped at N epochs of its data (Chung et al., 2023)."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from catsmt.config_fields import option
from catsmt.weighting.base import RunBudget, Weighting, check_state_keys, check_state_langs

log = logging.getLogger(__name__)


@dataclass
class UniMaxParams:
    epochs: float = option(4.0, "N, the cap: no language is planned for more than N epochs of its training pairs over the run; what a capped language cannot use goes to the larger languages")

    def validate(self) -> None:
        if not (self.epochs > 0 and math.isfinite(self.epochs)):
            raise ValueError(f"epochs (UniMax's cap N) must be a finite number > 0, got {self.epochs}")


def unimax_allocation(sizes: Sequence[int], budget: int, epochs: float) -> list[int]:
    """Pairs to draw from each language over the run: UniMax's Algorithm 1, in whole pairs.

    Languages are visited from the smallest to the largest. Each gets an equal share of the
    budget still unallocated, ``B / (languages left)``, or its cap ``⌊N · |D_n|⌋`` when that is
    smaller; a capped language's unused share is thereby split among the larger ones. Once
    one language is below its cap every larger one is too (its cap is at least as large and
    the share does not change), so those split the rest equally; the ``r`` pairs that do not
    divide evenly go one each to the ``r`` largest languages.

    Args:
        sizes: ``|D_n|``, training pairs of each language (> 0).
        budget: pairs the run draws in all (``RunBudget.examples``, ≥ 0).
        epochs: the cap N (> 0).

    Returns:
        Pairs per language, in the order of ``sizes``: each at most ``⌊N · |D_n|⌋``, summing to
        ``budget`` exactly unless the budget exceeds N epochs of all the data (then every
        language gets its cap and the sum is ``Σ ⌊N · |D_n|⌋``).

    Raises:
        ValueError: a language without data, a negative budget or a non-positive cap.
    """
    if budget < 0:
        raise ValueError(f"UniMax's budget must be >= 0 pairs, got {budget}")
    if not epochs > 0:
        raise ValueError(f"UniMax's epochs must be > 0, got {epochs}")
    empty = [i for i, size in enumerate(sizes) if size <= 0]
    if empty:
        raise ValueError(f"UniMax needs training pairs in every language; languages at {empty} have none")
    caps = [math.floor(epochs * size) for size in sizes]
    order = sorted(range(len(sizes)), key=lambda i: (sizes[i], i))  # smallest first
    allocation = [0] * len(sizes)
    left = int(budget)
    for rank, i in enumerate(order):
        remaining = len(order) - rank
        if caps[i] * remaining <= left:  # the cap is at most the equal share: capped
            allocation[i] = caps[i]
            left -= caps[i]
            continue
        share, extra = divmod(left, remaining)  # this language and every larger one: uncapped
        for j, k in enumerate(order[rank:]):
            allocation[k] = share + (1 if j >= remaining - extra else 0)
        break
    return allocation


class UniMax(Weighting):
    """UniMax sampling: a uniform budget per language, capped at N epochs of that language's data.

    Chung et al., ICLR 2023, "UniMax: Fairer and More Effective Language Sampling for
    Large-Scale Multilingual Pretraining", Algorithm 1.

    The run's budget (``RunBudget.examples``: pairs drawn over all updates) is allocated by
    :func:`unimax_allocation` -- uniformly, except that no language is given more than
    ``epochs`` (N) epochs of its pairs, the leftover going to the larger languages -- and the
    sampling distribution is the allocation normalised, ``p_n = U_n / Σ U``. The paper counts
    characters; catsmt counts sentence pairs, since that is what its budget is planned in.
    When the budget exceeds N epochs of all the data every language is capped and ``p`` is
    proportional to size (T = 1), as Algorithm 1 gives; a warning says so. With a budget of 0
    the distribution is uniform. Every step is one token-weighted loss and one backward.
    """

    Params = UniMaxParams
    label = "UniMax"

    def __init__(
        self, params: UniMaxParams, langs: Sequence[str], sizes: Mapping[str, int], *, budget: RunBudget | None = None
    ) -> None:
        params.validate()
        super().__init__(params, langs, sizes, budget=budget)
        self.params: UniMaxParams = params
        if budget is None:
            raise ValueError(
                "UniMax allocates the run's budget and needs it: construct it with "
                "budget=RunBudget(updates=..., examples=...) (catsmt's trainer passes one)"
            )
        sizes_n = [self.sizes[lang] for lang in self.langs]
        self.allocation = unimax_allocation(sizes_n, int(budget.examples), params.epochs)
        total = sum(self.allocation)
        if total < budget.examples:
            log.warning(
                "UniMax: the run draws %d pairs but %g epochs of all the data are only %d; every "
                "language is capped and sampling is proportional to size. Set epochs above %.2f to "
                "leave the largest languages below their cap.",
                budget.examples, params.epochs, total, budget.examples / sum(sizes_n),
            )

    def sampling_probs(self) -> dict[str, float]:
        total = sum(self.allocation)
        if total == 0:
            return {lang: 1.0 / len(self.langs) for lang in self.langs}
        return {lang: u / total for lang, u in zip(self.langs, self.allocation, strict=True)}

    def state_dict(self) -> dict[str, Any]:
        return {"langs": list(self.langs), "allocation": list(self.allocation)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the allocation the run was sampling from, even if this run's budget would
        give another one (a resumed run continues exactly; a warning names the difference)."""
        check_state_keys(state, ["langs", "allocation"], "unimax")
        check_state_langs(state, self.langs, "unimax")
        saved = [int(u) for u in state["allocation"]]
        if saved != self.allocation:
            log.warning(
                "UniMax: keeping the checkpoint's allocation %s, not %s from this run's budget",
                saved, self.allocation,
            )
        self.allocation = saved

    def log_values(self) -> dict[str, float]:
        """Planned epochs ``U_n / |D_n|`` of each language."""
        return {f"unimax_epochs/{lang}": u / self.sizes[lang] for lang, u in zip(self.langs, self.allocation, strict=True)}
