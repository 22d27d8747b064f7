"""MultiDDS: learn the language sampling distribution from train/dev gradient alignment
(Wang et al., 2020)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from catsmt.config_fields import option
from catsmt.weighting.base import (
    RunBudget,
    TaskGradients,
    Weighting,
    check_state_keys,
    check_state_langs,
    temperature_probs,
)


@dataclass
class MultiDDSParams:
    temperature: float = option(1.0, "temperature T of the initial sampling distribution ψ ∝ |D_n|^(1/T); 1 = proportional, inf = uniform")
    psi_lr: float = option(0.1, "learning rate of the REINFORCE step on the logits of ψ")
    update_every: int = option(100, "update ψ (and compute per-language and dev gradients) every this many steps")

    def validate(self) -> None:
        if self.psi_lr < 0:
            raise ValueError(f"psi_lr must be >= 0, got {self.psi_lr}")
        if self.update_every < 1:
            raise ValueError(f"update_every must be >= 1, got {self.update_every}")


def alignment_rewards(grads: Tensor, dev_grad: Tensor) -> Tensor:
    """``(K,)`` float64 rewards ``R_n = cos(g_n, g_dev)`` (0 where a gradient is zero).

    Works in the gradients' own dtype and device (no float64 copy of the ``(K, P)`` matrix);
    only the K dot products and norms are brought to the CPU.
    """
    d = dev_grad.reshape(-1).to(grads)
    if d.numel() != grads.shape[1]:
        raise ValueError(f"dev gradient has {d.numel()} entries, task gradients have {grads.shape[1]}")
    dots = (grads @ d).double().cpu()
    norms = (grads.norm(dim=1).double() * d.norm().double()).cpu()
    return torch.where(norms > 0, dots / norms.clamp_min(1e-300), torch.zeros_like(dots))


class MultiDDS(Weighting):
    """MultiDDS: a sampling distribution learned from train/dev gradient alignment.

    Wang et al., ACL 2020, "Balancing Training for Multilingual Neural Machine Translation".

    The sampling distribution over all N languages is ``ψ = softmax(logits)``, initialised to
    temperature sampling with ``temperature`` (so ``logits = log p_T``) and handed to the
    data sampler by :meth:`sampling_probs`. Every ``update_every`` steps the reward of each
    language n in the batch is ``R_n = cos(g_n, g_dev)``, the alignment of its training
    gradient with the gradient of the multilingual development loss, and ψ takes one REINFORCE
    step (Algorithm 1)::

        logits ← logits + psi_lr · Σ_{n in batch} R_n ∇ log ψ_n,   ∇ log ψ_n = e_n - ψ

    summed over the batch's languages as the paper sums over languages. This is plain
    MultiDDS; the paper's stabilised MultiDDS-S reward is not implemented. The model update is
    the token-weighted mean loss of the batch (the data, not the loss, is re-weighted).
    """

    Params = MultiDDSParams
    label = "MultiDDS"
    needs_dev_grad = True

    def __init__(
        self, params: MultiDDSParams, langs: Sequence[str], sizes: Mapping[str, int], *, budget: RunBudget | None = None
    ) -> None:
        params.validate()
        super().__init__(params, langs, sizes, budget=budget)
        self.params: MultiDDSParams = params
        init = temperature_probs(self.sizes, params.temperature)
        self.logits = torch.tensor([math.log(init[lang]) for lang in self.langs], dtype=torch.float64)
        self._rewards: dict[str, float] = {}


    def psi(self) -> Tensor:
        """``(N,)`` float64 sampling distribution ``ψ`` over ``langs``."""
        return torch.softmax(self.logits, dim=0)

    def sampling_probs(self) -> dict[str, float]:
        return {lang: float(p) for lang, p in zip(self.langs, self.psi(), strict=True)}

    def needs_task_grads(self, step: int) -> bool:
        return step % self.params.update_every == 0

    def combine(self, step: int, tasks: TaskGradients) -> Tensor:
        out = super().combine(step, tasks)  # the token-weighted mean gradient
        if self.needs_task_grads(step):
            self._update(tasks)
        return out

    def _update(self, tasks: TaskGradients) -> None:
        """One REINFORCE step of the logits from the batch languages' rewards."""
        if tasks.dev_grad is None:
            raise ValueError(
                "MultiDDS needs the development-set gradient: the training loop must pass "
                "TaskGradients(dev_grad=...) on update steps (a callable returning the (P,) "
                "gradient of the mean dev loss)"
            )
        pos = self.positions(tasks.langs)
        rewards = alignment_rewards(tasks.grads, tasks.dev_grad())
        if not bool(rewards.isfinite().all()):
            return  # a non-finite step (the trainer skips it) must not poison ψ
        psi = self.psi()
        step = -rewards.sum() * psi  # Σ_n R_n (e_n - ψ)
        step[pos] += rewards
        self.logits += self.params.psi_lr * step
        self._rewards = {lang: float(r) for lang, r in zip(tasks.langs, rewards, strict=True)}

    def state_dict(self) -> dict[str, Any]:
        return {"langs": list(self.langs), "logits": self.logits.clone(), "rewards": dict(self._rewards)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        check_state_keys(state, ["langs", "logits"], "multidds")
        check_state_langs(state, self.langs, "multidds")
        self.logits = state["logits"].detach().double().cpu().clone()
        self._rewards = {str(k): float(v) for k, v in state.get("rewards", {}).items()}

    def log_values(self) -> dict[str, float]:
        values = {f"psi/{lang}": p for lang, p in self.sampling_probs().items()}
        values.update({f"reward/{lang}": r for lang, r in self._rewards.items()})
        return values
