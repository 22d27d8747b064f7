"""The training loop: one loop for CPU, one GPU and ``torchrun`` (DDP).

``train(cfg)`` builds a :class:`Recipe` and runs it. The recipe is shaped like a torchtune
recipe: ``_setup_*`` helpers build the parts (data, model, weighting method, optimizer,
sampler), :meth:`Recipe._restore` continues a run from its checkpoint, :meth:`Recipe._save`
writes one, and :meth:`Recipe.run` is the loop: ask the weighting method for the sampling
distribution, take a batch, run :func:`catsmt.training.step.train_step`, and log, validate
(:mod:`catsmt.training.validation`) and checkpoint every so often. What a checkpoint holds is
written down once, in :mod:`catsmt.run.state`; where it goes, in :mod:`catsmt.run`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import torch
import yaml
from torch import Tensor, nn

from catsmt.config import Config, ConfigError
from catsmt.data import MultilingualData, prepare_data
from catsmt.data.prefetch import PrefetchingSampler
from catsmt.data.sampler import BatchSampler
from catsmt.files import write_atomic
from catsmt.model import build_model
from catsmt.model.loss import label_smoothed_loss
from catsmt.run.checkpoint import CheckpointError, CheckpointManager
from catsmt.run.device import autocast_factory, resolve_device
from catsmt.run.folder import RunDirError, RunFolder, check_resume_changes
from catsmt.run.metrics import MetricsLogger
from catsmt.run.model_folder import Languages, save_run_languages
from catsmt.run.state import TrainingState, read_training_state
from catsmt.training import distributed
from catsmt.training.rng import rng_state, seed_everything, set_rng_state
from catsmt.training.schedule import inverse_sqrt_lr
from catsmt.training.step import StepContext, StepStats, train_step
from catsmt.training.validation import (
    is_better,
    selection_score,
    validation_losses,
    validation_scores,
)
from catsmt.weighting import RunBudget, Weighting, get_method
from catsmt.weighting.grads import flat_grad, param_slices, trainable

log = logging.getLogger(__name__)

__all__ = ["RunDirError", "TrainResult", "TrainState", "train"]


@dataclass
class TrainState:
    """Counters that belong in the checkpoint next to the model and optimizer."""

    step: int = 0
    best_score: float = math.inf
    best_step: int = -1
    bad_steps_in_a_row: int = 0
    bad_steps_total: int = 0
    tokens_seen: int = 0
    train_seconds: float = 0.0
    last_valid: dict[str, float] = field(default_factory=dict)


@dataclass
class TrainResult:
    run_dir: Path
    steps: int
    best_step: int
    best_score: float
    valid: dict[str, float]
    tokens_per_second: float
    stopped: str  # "max_steps" | "max_minutes" | "signal" | "non_finite"
    signum: int = 0  # the signal that stopped the run (when stopped == "signal")
    target_tokens: int = 0  # target tokens trained on, over all updates (and resumes)
    train_seconds: float = 0.0  # wall-clock seconds spent in training steps (not validation)


def train(cfg: Config, resume: bool = False) -> TrainResult:
    """Train a model as ``cfg`` says, into ``cfg.train.run_dir``.

    Args:
        cfg: the resolved configuration.
        resume: continue the run in ``cfg.train.run_dir`` from its last checkpoint. ``cfg``
            may change what does not shape the checkpoint (``train.max_steps``, the lr, the
            device, ...); :func:`catsmt.run.folder.resume_config` builds it from the
            checkpoint's own config.

    Raises:
        RunDirError: the run folder exists without ``resume``, is missing with it, another
            process trains in it, or ``cfg`` changes the model, data or method on resume.
    """
    recipe = Recipe(cfg, resume)
    with contextlib.ExitStack() as stack:
        stack.callback(distributed.shutdown)
        recipe.setup(stack)
        return recipe.run()
    raise AssertionError("unreachable")  # pragma: no cover - ExitStack does not swallow


# -- setup helpers ---------------------------------------------------------------------


def _setup_device(cfg: Config, local_rank: int) -> torch.device:
    try:
        return resolve_device(cfg.train.device, local_rank)
    except ValueError as e:
        raise ConfigError(f"train.device: {e}") from e


def _setup_model(cfg: Config, data: MultilingualData, device: torch.device, rank: int) -> nn.Module:
    seed_everything(cfg.train.seed)  # the same initial parameters on every rank
    model = build_model(cfg.model, data.vocab.size, data.vocab.pad_id).to(device)
    if rank > 0:  # other dropout masks on each rank; rank 0 goes on as a single process does
        seed_everything(cfg.train.seed + rank)
    return model


def _setup_compile(cfg: Config, wrapped: nn.Module) -> nn.Module:
    """The module the training step calls: ``wrapped`` under ``torch.compile`` when
    ``train.compile`` is on, else ``wrapped`` itself.

    Only the training forward/backward runs compiled. The compiled module shares its
    parameters with the model, but its ``state_dict`` keys carry an ``_orig_mod.`` prefix and
    compiled graphs have no double backward, so checkpoints, the optimizer, validation, the
    dev gradient and analysis keep the uncompiled model: a checkpoint does not depend on
    ``train.compile``. Under DDP, ``wrapped`` is the DDP module, compiled after wrapping as
    PyTorch recommends: dynamo then splits the graph at DDP's bucket boundaries so that the
    all-reduce overlaps the backward, and ``no_sync`` still reaches DDP. ``dynamic=True``
    because batch shapes (sentences, lengths) change from step to step.
    """
    t = cfg.train
    if not t.compile:
        return wrapped
    log.info("compiling the training forward (backend %s, mode %s)", t.compile_backend, t.compile_mode)
    return cast(nn.Module, torch.compile(wrapped, backend=t.compile_backend, mode=t.compile_mode, dynamic=True))


def _setup_weighting(cfg: Config, data: MultilingualData, world_size: int) -> Weighting:
    """The weighting method, told the run's budget: updates, and pairs drawn over all of them
    (token budget per update over the corpus's mean padded pair length)."""
    t = cfg.train
    tokens_per_update = cfg.data.max_tokens * t.accum_steps * world_size
    examples = int(t.max_steps * tokens_per_update / max(data.mean_pair_cost("train"), 1.0))
    budget = RunBudget(updates=t.max_steps, examples=examples)
    return get_method(cfg.weighting.method)(cfg.weighting.params, data.langs, data.sizes("train"), budget=budget)


def _setup_optimizer(cfg: Config, params: list[nn.Parameter], device: torch.device) -> torch.optim.Optimizer:
    t = cfg.train
    kwargs: dict[str, Any] = dict(lr=t.lr, betas=(t.betas[0], t.betas[1]), eps=t.adam_eps, weight_decay=t.weight_decay)
    if device.type == "cuda":
        kwargs["fused"] = True
    return torch.optim.AdamW(params, **kwargs) if t.weight_decay > 0 else torch.optim.Adam(params, **kwargs)


def _setup_dev_grad(
    model: nn.Module, params: list[nn.Parameter], data: MultilingualData, cfg: Config, device: torch.device
) -> Callable[[], Tensor]:
    """Gradient of the mean per-language development loss on a fixed small dev batch
    (MultiDDS's reward); computed in eval mode so every rank gets the same vector."""

    def dev_grad() -> Tensor:
        was_training = model.training
        model.eval()
        model.zero_grad(set_to_none=True)
        for lang in data.langs:
            part = next(iter(data.batches("valid", lang, cfg.data.max_tokens // 2, 64))).to(device)
            loss, _, n = label_smoothed_loss(model(*part.inputs), part.tgt_out, part.pad_id, cfg.train.label_smoothing)
            (loss / n.clamp_min(1) / len(data.langs)).backward()
        model.train(was_training)
        return flat_grad(params).clone()

    return dev_grad


class _StopFlag:
    """Set by SIGINT/SIGTERM: the loop finishes the current update, saves, and exits."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _StopFlag:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError):  # not the main thread: no handler
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: object) -> None:
        if self.signal is not None:  # second signal: give up immediately
            raise KeyboardInterrupt
        self.signal = signum

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _progress(cfg: Config, start: int, enabled: bool) -> Any:
    if not (enabled and cfg.train.progress):
        return None
    from tqdm import tqdm

    return tqdm(total=cfg.train.max_steps, initial=start, unit="upd", dynamic_ncols=True, leave=True, mininterval=1.0)


def _batches(sampler: Any, accum: int) -> Iterator[list[Any]]:
    while True:
        parts: list[Any] = []
        for _ in range(accum):
            parts.extend(sampler.next_batch().parts)
        yield parts


# -- the recipe ----------------------------------------------------------------------------


class Recipe:
    """One training run: :meth:`setup`, then :meth:`run` (see the module docstring)."""

    def __init__(self, cfg: Config, resume: bool) -> None:
        self.cfg = cfg
        self.resume = resume
        self.info = distributed.detect()
        self.folder = RunFolder(Path(cfg.train.run_dir))
        self.state = TrainState()
        self.saved_step = -1

    # -- setup ------------------------------------------------------------------------------
    def setup(self, stack: contextlib.ExitStack) -> None:
        """Build every part, restore a resumed run, create the run folder; ``stack`` holds
        the run folder's lock until the run ends."""
        cfg, info = self.cfg, self.info
        self.device = device = _setup_device(cfg, info.local_rank)
        distributed.init(info, device)
        if cfg.train.threads > 0:
            torch.set_num_threads(cfg.train.threads)
        # Checked before the data is prepared; a resumed folder is locked now, a new one when
        # it is created (a start that fails on a bad corpus leaves no folder behind).
        distributed.main_first(lambda: self.folder.check(self.resume) if info.is_main else None)
        if self.resume and info.is_main:
            stack.enter_context(self.folder.lock())
        self.data = data = distributed.main_first(lambda: prepare_data(cfg.data))  # the vocabulary does not depend on the training seed
        self.model = model = _setup_model(cfg, data, device, info.rank)
        self.params = trainable(model.parameters())
        self.method = _setup_weighting(cfg, data, info.world_size)
        self.optimizer = _setup_optimizer(cfg, self.params, device)
        self.scaler = torch.amp.GradScaler(device.type, enabled=cfg.train.precision == "fp16")
        stream = data.sampler(self.method.sampling_probs(), seed=cfg.train.seed, rank=info.rank, world_size=info.world_size)
        self.sampler: BatchSampler | PrefetchingSampler = PrefetchingSampler(stream) if cfg.data.prefetch else stream
        stack.callback(self.sampler.close)
        self.ckpts = CheckpointManager(self.folder.checkpoints, cfg.train.keep_last)
        if self.resume:
            self._restore()
        if info.is_main:
            if not self.resume:
                stack.enter_context(self.folder.lock())
            self.folder.create(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
            if not self.folder.languages.exists():  # the vocabulary beside the checkpoints: a
                save_run_languages(self.folder.path, Languages.of(data))  # model loads without its corpus
        self.autocast = autocast_factory(cfg.train.precision, device)
        self.ctx = StepContext(
            model=_setup_compile(cfg, distributed.wrap(model, device)), params=self.params,
            param_slices=param_slices(model.named_parameters()), optimizer=self.optimizer, scaler=self.scaler,
            autocast=self.autocast, pad_id=data.vocab.pad_id, label_smoothing=cfg.train.label_smoothing,
            clip_norm=cfg.train.clip_norm, langs=data.langs, loss_chunk=cfg.train.loss_chunk,
            dev_grad=_setup_dev_grad(model, self.params, data, cfg, device) if self.method.needs_dev_grad else None,
        )
        # On resume, events after the checkpoint's step are dropped: the loop logs them again.
        self.logger = MetricsLogger(self.folder.path, cfg.train.tensorboard, enabled=info.is_main,
                                    resume_step=self.state.step if self.resume else None)
        stack.callback(self.logger.close)
        self.probes = None
        if cfg.train.analysis_every and info.is_main:
            from catsmt.analysis.tracking import ProbeBatches

            self.probes = ProbeBatches.from_data(data, data.langs, split=cfg.train.analysis_split,
                                                 twins="selfsim" in cfg.train.analysis_what)

    def _restore(self) -> None:
        """Continue from the last checkpoint: every part's state, this rank's RNG, and the
        checkpoints folder as it was when that checkpoint was committed."""
        if not self.ckpts.has_checkpoint():
            # Stopped before its first save (e.g. killed while preparing the data): start from
            # step 0, which is exactly what the interrupted run did.
            log.warning("no checkpoint in %s yet; starting the run from step 0", self.ckpts.dir)
            return
        ck, source = self.ckpts.load_latest(map_location=self.device)
        saved = read_training_state(ck, str(source))
        check_resume_changes(saved.config, self.cfg.to_dict(), str(source))
        self.model.load_state_dict(saved.model)
        self.optimizer.load_state_dict(saved.optimizer)
        self.scaler.load_state_dict(saved.scaler)
        self.method.load_state_dict(saved.weighting)
        self.sampler.load_state_dict(saved.sampler)
        self.state = TrainState(step=saved.step, **saved.train_state)
        self.saved_step = saved.step
        if self.info.rank < len(saved.rng):
            set_rng_state(saved.rng[self.info.rank])
        else:  # more ranks than that run had: a fresh dropout stream
            seed_everything(self.cfg.train.seed + self.info.rank + saved.step)
        if self.info.is_main:
            self.ckpts.roll_back(source, saved.step, self.state.best_step)

    # -- checkpoints and validation ---------------------------------------------------------
    def _save(self, is_best: bool = False) -> None:
        rngs = distributed.all_gather_object(rng_state())  # every rank's dropout stream
        if self.info.is_main:
            counters = {k: v for k, v in self.state.__dict__.items() if k != "step"}
            ck = TrainingState(
                step=self.state.step, config=self.cfg.to_dict(), model=self.model.state_dict(),
                optimizer=self.optimizer.state_dict(), scaler=self.scaler.state_dict(),
                weighting=self.method.state_dict(), sampler=self.sampler.state_dict(), rng=rngs,
                train_state=counters,
            ).to_checkpoint()
            try:
                self.ckpts.save(ck, self.state.step, is_best)
            except OSError as e:  # disk full, permissions: stop, the previous checkpoint intact
                raise CheckpointError(
                    f"cannot save the step {self.state.step} checkpoint in {self.ckpts.dir}: {e}; "
                    "the previous checkpoint there is intact"
                ) from e
        self.saved_step = self.state.step

    def _validate(self) -> None:
        cfg, state = self.cfg, self.state
        valid: dict[str, dict[str, float]] = validation_losses(self.model, self.data, cfg, self.device, self.autocast)
        t = cfg.train
        if t.valid_bleu_every and state.step % t.valid_bleu_every == 0:
            scores = validation_scores(self.model, self.data, cfg, self.device) if self.info.is_main else None
            scores = cast(dict[str, dict[str, float]], distributed.broadcast_object(scores))
            valid = {lang: {**v, **scores[lang]} for lang, v in valid.items()}
        score = selection_score(valid, cfg.train.best_metric)
        for lang, v in valid.items():
            self.logger.log({"event": "valid", "step": state.step, "split": "valid", "lang": lang, **v})
        self.logger.log({"event": "valid", "step": state.step, "split": "valid", "lang": "avg", "score": score,
                         "metric": cfg.train.best_metric})
        state.last_valid = {lang: v["nll"] for lang, v in valid.items()}
        is_best = is_better(score, state.best_score, cfg.train.best_metric)
        if is_best:
            state.best_score, state.best_step = score, state.step
        self._save(is_best)

    def _analyse(self) -> None:
        from catsmt.analysis.tracking import measure

        assert self.probes is not None
        for event in measure(self.model, self.probes, self.data.groups, self.state.step, self.device,
                             self.cfg.train.analysis_what):
            self.logger.log(event)

    # -- the loop ---------------------------------------------------------------------------
    def run(self) -> TrainResult:
        cfg, state, method, t = self.cfg, self.state, self.method, self.cfg.train
        self.model.train()
        bar = _progress(cfg, state.step, self.info.is_main)
        window: list[StepStats] = []
        t_window, stopped = time.perf_counter(), "max_steps"
        batches = _batches(self.sampler, t.accum_steps)
        pushed: dict[str, float] | None = None
        with _StopFlag() as stop:
            while state.step < t.max_steps:
                t0 = time.perf_counter()
                probs = method.sampling_probs()  # the method owns it; the sampler is told changes
                if probs != pushed:
                    self.sampler.set_probs(probs)
                    pushed = probs
                parts = [p.to(self.device, non_blocking=True) for p in next(batches)]
                lr = inverse_sqrt_lr(state.step, t.lr, t.warmup_steps, t.warmup_init_lr)
                for group in self.optimizer.param_groups:
                    group["lr"] = lr
                stats = train_step(self.ctx, method, state.step, parts)
                state.step += 1
                state.train_seconds += time.perf_counter() - t0
                state.tokens_seen += sum(stats.n_tokens.values())
                state.bad_steps_in_a_row = 0 if stats.finite else state.bad_steps_in_a_row + 1
                state.bad_steps_total += 0 if stats.finite else 1
                window.append(stats)
                if not stats.finite:
                    self.logger.log({"event": "non_finite", "step": state.step, "langs": stats.langs, "loss": stats.loss})
                if state.step % t.log_every == 0 or state.step == t.max_steps:
                    _log_train(self.logger, window, state, lr, time.perf_counter() - t_window, method, bar)
                    window, t_window = [], time.perf_counter()
                if bar is not None:
                    bar.update(1)
                if state.bad_steps_in_a_row >= t.max_bad_steps:
                    stopped = "non_finite"
                    log.error("stopping: %d updates in a row had a non-finite loss or gradient (step %d, languages %s)",
                              state.bad_steps_in_a_row, state.step, ", ".join(stats.langs))
                    break
                if self.probes is not None and state.step % t.analysis_every == 0:
                    self._analyse()
                if state.step % t.valid_every == 0:
                    self._validate()
                elif t.save_every and state.step % t.save_every == 0:
                    self._save()
                timed_out = bool(t.max_minutes) and state.train_seconds > t.max_minutes * 60
                timed_out, signalled = distributed.any_rank([timed_out, stop.signal is not None])  # all stop together
                if timed_out or signalled:
                    stopped = "max_minutes" if timed_out else "signal"
                    if timed_out:
                        log.warning("stopping on the time cap (train.max_minutes=%g) after %d of %d updates",
                                    t.max_minutes, state.step, t.max_steps)
                    break
            if stopped in ("signal", "non_finite"):
                # A signal saves and leaves at once: no unscheduled validation, which would delay
                # the exit a preemption allows and could move best.pt off the uninterrupted run's.
                if self.saved_step != state.step:
                    self._save()
            elif state.step % t.valid_every != 0:
                self._validate()
        if bar is not None:
            bar.close()
        result = TrainResult(
            run_dir=self.folder.path, steps=state.step, best_step=state.best_step, best_score=state.best_score,
            valid=state.last_valid, tokens_per_second=state.tokens_seen / max(state.train_seconds, 1e-9),
            stopped=stopped, signum=stop.signal or 0, target_tokens=state.tokens_seen,
            train_seconds=state.train_seconds,
        )
        if self.info.is_main:
            write_atomic(self.folder.summary, json.dumps(result.__dict__, default=str, indent=2) + "\n")
        return result


def _log_train(
    logger: MetricsLogger, window: list[StepStats], state: TrainState, lr: float,
    seconds: float, method: Weighting, bar: Any,
) -> None:
    """One ``train`` event per language (mean over the window) and one summary event."""
    per_lang: dict[str, list[tuple[float, float, int]]] = {}
    for s in window:
        for lang in s.langs:
            per_lang.setdefault(lang, []).append((s.loss[lang], s.nll[lang], s.n_tokens[lang]))
    tokens = 0
    for lang, vals in sorted(per_lang.items()):
        n = sum(v[2] for v in vals)
        tokens += n
        logger.log({
            "event": "train", "step": state.step, "split": "train", "lang": lang,
            "loss": sum(v[0] * v[2] for v in vals) / max(n, 1), "nll": sum(v[1] * v[2] for v in vals) / max(n, 1),
            "n_tokens": n,
        })
    mean_loss = sum(s.loss[k] * s.n_tokens[k] for s in window for k in s.langs) / max(tokens, 1)
    event = {
        "event": "train", "step": state.step, "split": "train", "lang": "all", "loss": mean_loss, "lr": lr,
        "grad_norm": sum(s.grad_norm for s in window) / max(len(window), 1),
        "tokens_per_s": tokens / max(seconds, 1e-9), "weights": method.log_values(),
        "sampling": method.sampling_probs(), "task_grad_steps": sum(s.used_task_grads for s in window),
    }
    logger.log(event)
    if bar is not None:
        bar.set_postfix(loss=f"{mean_loss:.3f}", tok_s=f"{event['tokens_per_s']:.0f}")
