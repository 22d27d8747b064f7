"""The training-step cases, one or two per registered weighting method, and the curvature case.

Every method of :data:`catsmt.weighting.WEIGHTINGS` is timed with its default
hyperparameters, built as the trainer builds it (:func:`catsmt.training.trainer._setup_weighting`:
the run's budget included) and stepped by :func:`catsmt.training.step.train_step`, which also
hands the update's losses to the methods that observe them. Which step a case times is read
from the method itself, never from its name: :meth:`Weighting.needs_task_grads` over the
first :data:`HORIZON` updates says whether the method takes the weighted-loss path, the
task-gradient path, or both (then its update steps are timed, and for the methods in
:data:`BETWEEN_UPDATES` the steps between them too). MultiDDS's development gradient is
the trainer's own closure (``_setup_dev_grad``), built only for methods that set
``needs_dev_grad``.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import cast

import torch
from torch import Tensor, nn

from catsmt.analysis.curvature import hvp, measurement_mode
from catsmt.bench.config import PLAIN, BenchConfig
from catsmt.bench.data import PAD_ID, SyntheticData
from catsmt.data import MultilingualData
from catsmt.data.batch import Batch, LangBatch
from catsmt.model import label_smoothed_loss
from catsmt.run.device import autocast_factory
from catsmt.training.step import StepContext, train_step
from catsmt.training.trainer import _setup_dev_grad, _setup_optimizer, _setup_weighting
from catsmt.weighting import Weighting, label_of
from catsmt.weighting.grads import param_slices, trainable

#: Updates over which a method's schedule is read (its update steps must fall within them).
HORIZON = 1000
#: Methods whose steps between updates are timed as well as their update steps (rows
#: ``cats`` and ``cats_meta``): CATS's target is that such a step costs a plain step.
BETWEEN_UPDATES = ("cats",)


@dataclass(frozen=True)
class TrainCase:
    """One training row: a method, and which of its steps are timed.

    Attributes:
        name: the row's name (``plain``, ``famo``, ``cats_meta``).
        method: the registered method.
        task_grads: whether the timed steps take the task-gradient path.
        label: what is timed, in words.
    """

    name: str
    method: str
    task_grads: bool
    label: str


def train_cases(name: str, method: Weighting) -> list[TrainCase]:
    """The rows of method ``name``, from its schedule over the first :data:`HORIZON` updates."""
    paths = {method.needs_task_grads(step) for step in range(HORIZON)}
    label = label_of(name)
    dev = " (+ dev gradient)" if method.needs_dev_grad else ""
    if name == PLAIN:
        return [TrainCase("plain", name, False, f"plain step ({name})")]
    if len(paths) == 1:
        return [TrainCase(name, name, paths.pop(), f"{label} step{dev}")]
    if name in BETWEEN_UPDATES:
        return [TrainCase(name, name, False, f"{label} step between updates"),
                TrainCase(f"{name}_meta", name, True, f"{label} update step{dev}")]
    return [TrainCase(name, name, True, f"{label} update step{dev}")]


def steps_of(method: Weighting, task_grads: bool) -> Iterator[int]:
    """The update indices, in order, at which ``method`` takes the path ``task_grads`` names.

    Raises:
        RuntimeError: none in :data:`HORIZON` updates after the previous one.
    """
    step = 0
    while True:
        for _ in range(HORIZON):
            if method.needs_task_grads(step) == task_grads:
                break
            step += 1
        else:
            raise RuntimeError(f"no step with task_grads={task_grads} within {HORIZON} updates of {step - HORIZON}")
        yield step
        step += 1


class Methods:
    """Builds the weighting methods as the trainer does, and the contexts their steps run in.

    Args:
        cfg: the suite's config (:meth:`BenchConfig.run_config` gives each method's run).
        data: the synthetic splits (the budget's pair size, the development batches).
        model: the model the steps train.
        device: where it lives.
    """

    def __init__(self, cfg: BenchConfig, data: SyntheticData, model: nn.Module, device: torch.device) -> None:
        self.cfg = cfg
        # The trainer's helpers read langs, sizes, mean_pair_cost and batches of the data.
        self.data = cast(MultilingualData, data)
        self.model = model
        self.device = device
        run = cfg.run_config()
        params = trainable(model.parameters())
        self.ctx = StepContext(
            model=model, params=params, param_slices=param_slices(model.named_parameters()),
            optimizer=_setup_optimizer(run, params, device),
            scaler=torch.amp.GradScaler(device.type, enabled=run.train.precision == "fp16"),
            autocast=autocast_factory(run.train.precision, device), pad_id=PAD_ID,
            label_smoothing=run.train.label_smoothing, clip_norm=run.train.clip_norm, langs=data.langs,
            loss_chunk=run.train.loss_chunk,
        )
        self._dev_grad: Callable[[], Tensor] | None = None

    def build(self, name: str) -> Weighting:
        """Method ``name`` with its defaults and the run's budget, as the trainer builds it.

        Raises:
            ImportError: the method's optional dependency is missing (torchjd).
        """
        return _setup_weighting(self.cfg.run_config(name), self.data, 1)

    def context(self, method: Weighting) -> StepContext:
        """The step context of ``method``: with the trainer's development-gradient closure
        only when the method needs one (built once, on first need)."""
        if not method.needs_dev_grad:
            return self.ctx
        if self._dev_grad is None:
            self._dev_grad = _setup_dev_grad(self.model, self.ctx.params, self.data, self.cfg.run_config(), self.device)
        return dataclasses.replace(self.ctx, dev_grad=self._dev_grad)


def train_case(
    ctx: StepContext, method: Weighting, case: TrainCase, batches: list[Batch], non_finite: dict[str, int],
) -> Callable[[], None]:
    """One call: the next timed step of ``case`` on the next batch of the pool, through the
    trainer's :func:`train_step` (which also hands the losses to a method that observes them).

    Raises (when called):
        RuntimeError: the step took the other path than the case says.
    """
    cycle = itertools.cycle(batches)
    steps = steps_of(method, case.task_grads)

    def run() -> None:
        stats = train_step(ctx, method, next(steps), next(cycle).parts)
        if stats.used_task_grads != case.task_grads:
            raise RuntimeError(f"bench case '{case.name}' expected used_task_grads={case.task_grads}")
        if not stats.finite:
            non_finite[case.name] = non_finite.get(case.name, 0) + 1

    return run


def hvp_case(ctx: StepContext, part: LangBatch, seed: int) -> Callable[[], None]:
    """One Hessian-vector product of one sub-batch's loss (math attention, fp32) with a fixed
    random vector."""
    model, params = ctx.model, ctx.params
    gen = torch.Generator().manual_seed(seed)
    n = sum(p.numel() for p in params)
    vec = torch.randn(n, generator=gen).to(params[0].device)

    def loss_fn() -> Tensor:
        loss, _, count = label_smoothed_loss(model(*part.inputs), part.tgt_out, ctx.pad_id, ctx.label_smoothing)
        return loss / count.clamp_min(1)

    def run() -> None:
        with measurement_mode(model):
            hvp(loss_fn, params, vec)

    return run

