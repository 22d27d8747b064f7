"""The training loop: one loop for CPU, one GPU and ``torchrun`` (DDP).

``train(cfg)`` is a short loop around ``_setup_*`` helpers: it asks the weighting method for
the sampling distribution, takes a batch, runs :func:`catsmt.training.step.train_step`, and
validates, logs and checkpoints every so often. Everything needed to continue exactly is in
the checkpoint (model, optimizer, scaler, weighting state, sampler state, RNG states, step).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import torch
from torch import Tensor, nn

from catsmt.config import Config, ConfigError, save_config
from catsmt.data import MultilingualData, prepare_data
from catsmt.data.prefetch import PrefetchingSampler
from catsmt.data.sampler import BatchSampler
from catsmt.model import build_model
from catsmt.model.loss import label_smoothed_loss
from catsmt.run.checkpoint import CheckpointError, CheckpointManager
from catsmt.run.device import autocast_factory, resolve_device
from catsmt.training import distributed
from catsmt.training.metrics import MetricsLogger
from catsmt.training.rng import rng_state, seed_everything, set_rng_state
from catsmt.training.schedule import inverse_sqrt_lr
from catsmt.training.step import StepContext, StepStats, train_step
from catsmt.weighting import RunBudget, Weighting, get_method
from catsmt.weighting.grads import flat_grad, param_slices, trainable

log = logging.getLogger(__name__)


class RunDirError(RuntimeError):
    """Starting into a run folder that exists (without ``--resume``), or resuming a missing one."""


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


def validation_losses(
    model: nn.Module,
    data: MultilingualData,
    cfg: Config,
    device: torch.device,
    autocast: Callable[[], contextlib.AbstractContextManager[None]],
    split: str = "valid",
) -> dict[str, dict[str, float]]:
    """Per-language label-smoothed loss and NLL (per token) on ``split``.

    Under DDP the batches are shared out over ranks and the sums all-reduced.
    """
    was_training = model.training
    model.eval()
    info = distributed.detect()
    sums = torch.zeros(len(data.langs), 3, dtype=torch.float64)
    with torch.inference_mode():
        for i, lang in enumerate(data.langs):
            batches = data.batches(split, lang, cfg.data.max_tokens, cfg.train.valid_max_sentences)
            for j, part in enumerate(batches):
                if j % info.world_size != info.rank:
                    continue
                part = part.to(device)
                with autocast():
                    logits = model(*part.inputs)
                loss, nll, count = label_smoothed_loss(logits, part.tgt_out, part.pad_id, cfg.train.label_smoothing)
                sums[i] += torch.tensor([float(loss), float(nll), float(count)], dtype=torch.float64)
    distributed.all_reduce_sum(sums)
    model.train(was_training)
    out: dict[str, dict[str, float]] = {}
    for i, lang in enumerate(data.langs):
        total = max(float(sums[i, 2]), 1.0)
        out[lang] = {"loss": float(sums[i, 0]) / total, "nll": float(sums[i, 1]) / total, "n_tokens": float(sums[i, 2])}
    return out


def selection_score(valid: dict[str, dict[str, float]], metric: str) -> float:
    """The number the best checkpoint minimises: mean, token-weighted mean or worst per-language NLL."""
    nlls = [v["nll"] for v in valid.values()]
    if metric == "worst":
        return max(nlls)
    if metric == "token_weighted":
        total = sum(v["n_tokens"] for v in valid.values())
        return sum(v["nll"] * v["n_tokens"] for v in valid.values()) / max(total, 1.0)
    return sum(nlls) / len(nlls)


# -- setup helpers ---------------------------------------------------------------------


def _setup_run_dir(cfg: Config, resume: bool, is_main: bool) -> Path:
    """Check the run folder on rank 0; the other ranks wait, and raise its error.

    Nothing is created here (see :func:`_create_run_dir`): a start that fails later, on a bad
    corpus say, leaves no folder behind that would refuse the corrected command.
    """
    run = Path(cfg.train.run_dir)

    def check() -> None:
        ckpt = run / "checkpoints" / "last.pt"
        if resume:
            if not run.is_dir():
                raise RunDirError(f"cannot resume: run folder {run} does not exist")
        elif run.exists() and (not run.is_dir() or any(run.iterdir())):
            hint = " (it has checkpoints; add --resume to continue it)" if ckpt.exists() else ""
            raise RunDirError(f"run folder {run} already exists and is not empty{hint}; choose another train.run_dir")
        for folder in (run, run / "checkpoints"):  # fail now, not after preparing the data
            existing = next(p for p in (folder, *folder.parents) if p.exists())
            if not os.access(existing, os.W_OK | os.X_OK):
                raise RunDirError(f"cannot write the run folder {run}: {existing} is not writable")

    distributed.main_first(check if is_main else lambda: None)
    return run


def _write_atomic(path: Path, write: Callable[[Path], object]) -> None:
    """``write`` a temporary file beside ``path``, then rename it over ``path``: a kill mid-write
    never leaves a torn ``config.yaml`` (with which the run could not be resumed)."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _create_run_dir(cfg: Config, run: Path) -> None:
    """Create the run folder and write the resolved config (rank 0, once setup has succeeded)."""
    run.mkdir(parents=True, exist_ok=True)
    _write_atomic(run / "config.yaml", lambda tmp: save_config(cfg, tmp))


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


# -- the loop ------------------------------------------------------------------------------


def train(cfg: Config, resume: bool = False) -> TrainResult:
    """Train a model as ``cfg`` says, into ``cfg.train.run_dir``.

    Args:
        cfg: the resolved configuration.
        resume: continue the run in ``cfg.train.run_dir`` from its last checkpoint.

    Raises:
        RunDirError: the run folder exists without ``resume``, or is missing with it.
    """
    info = distributed.detect()
    try:
        device = resolve_device(cfg.train.device, info.local_rank)
    except ValueError as e:
        raise ConfigError(f"train.device: {e}") from e
    distributed.init(info, device)
    if cfg.train.threads > 0:
        torch.set_num_threads(cfg.train.threads)
    run = _setup_run_dir(cfg, resume, info.is_main)
    data = distributed.main_first(lambda: prepare_data(cfg.data))  # rank 0 builds the cache; the vocabulary does not depend on the training seed
    model = _setup_model(cfg, data, device, info.rank)
    params = trainable(model.parameters())
    method = _setup_weighting(cfg, data, info.world_size)
    optimizer = _setup_optimizer(cfg, params, device)
    scaler = torch.amp.GradScaler(device.type, enabled=cfg.train.precision == "fp16")
    stream = data.sampler(method.sampling_probs(), seed=cfg.train.seed, rank=info.rank, world_size=info.world_size)
    sampler: BatchSampler | PrefetchingSampler = PrefetchingSampler(stream) if cfg.data.prefetch else stream
    ckpts = CheckpointManager(run / "checkpoints", cfg.train.keep_last)
    state = TrainState()
    if resume and not ckpts.has_checkpoint():
        # Stopped before its first save (e.g. killed while preparing the data): start from
        # step 0, which is exactly what the interrupted run did.
        log.warning("no checkpoint in %s yet; starting the run from step 0", ckpts.dir)
    elif resume:
        ck = ckpts.load_latest(map_location=device)
        model.load_state_dict(ck["model"])
        optimizer.load_state_dict(ck["optimizer"])
        scaler.load_state_dict(ck["scaler"])
        method.load_state_dict(ck["weighting"])
        sampler.load_state_dict(ck["sampler"])
        state = TrainState(**ck["train_state"])
        rngs = ck.get("rng_ranks") or [ck["rng"]]  # one per rank of the run that saved it
        if info.rank < len(rngs):
            set_rng_state(rngs[info.rank])
        else:  # more ranks than that run had: a fresh dropout stream
            seed_everything(cfg.train.seed + info.rank + state.step)
    if info.is_main:
        _create_run_dir(cfg, run)
    wrapped = distributed.wrap(model, device)
    autocast = autocast_factory(cfg.train.precision, device)
    ctx = StepContext(
        model=_setup_compile(cfg, wrapped), params=params, param_slices=param_slices(model.named_parameters()),
        optimizer=optimizer, scaler=scaler, autocast=autocast, pad_id=data.vocab.pad_id,
        label_smoothing=cfg.train.label_smoothing, clip_norm=cfg.train.clip_norm, langs=data.langs,
        loss_chunk=cfg.train.loss_chunk,
        dev_grad=_setup_dev_grad(model, params, data, cfg, device) if method.needs_dev_grad else None,
    )
    # On resume, events after the checkpoint's step are dropped: the loop logs them again.
    logger = MetricsLogger(run, cfg.train.tensorboard, enabled=info.is_main, resume_step=state.step if resume else None)
    saved_step = -1

    def checkpoint(is_best: bool = False) -> None:
        nonlocal saved_step
        rngs = distributed.all_gather_object(rng_state())  # every rank's dropout stream
        if info.is_main:
            ck = _checkpoint_state(model, optimizer, scaler, method, sampler, state, cfg)
            if info.enabled:
                ck["rng_ranks"] = rngs
            try:
                ckpts.save(ck, state.step, is_best)
            except OSError as e:  # disk full, permissions: stop, the previous checkpoint intact
                raise CheckpointError(
                    f"cannot save the step {state.step} checkpoint in {ckpts.dir}: {e}; "
                    "the previous checkpoint there is intact"
                ) from e
        saved_step = state.step

    probes = None
    if cfg.train.analysis_every and info.is_main:
        from catsmt.analysis.tracking import ProbeBatches

        probes = ProbeBatches.from_data(data, data.langs)

    def analyse() -> None:
        from catsmt.analysis.tracking import measure

        assert probes is not None
        for event in measure(model, probes, data.groups, state.step, device, cfg.train.analysis_what):
            logger.log(event)

    def validate() -> None:
        valid = validation_losses(model, data, cfg, device, autocast)
        score = selection_score(valid, cfg.train.best_metric)
        for lang, v in valid.items():
            logger.log({"event": "valid", "step": state.step, "split": "valid", "lang": lang, **v})
        logger.log({"event": "valid", "step": state.step, "split": "valid", "lang": "avg", "score": score, "metric": cfg.train.best_metric})
        state.last_valid = {lang: v["nll"] for lang, v in valid.items()}
        is_best = score < state.best_score
        if is_best:
            state.best_score, state.best_step = score, state.step
        checkpoint(is_best)

    model.train()
    bar = _progress(cfg, state.step, info.is_main)
    window: list[StepStats] = []
    t_window, stopped = time.perf_counter(), "max_steps"
    batches = _batches(sampler, cfg.train.accum_steps)
    with _StopFlag() as stop:
        while state.step < cfg.train.max_steps:
            t0 = time.perf_counter()
            sampler.set_probs(method.sampling_probs())
            parts = [p.to(device, non_blocking=True) for p in next(batches)]
            lr = inverse_sqrt_lr(state.step, cfg.train.lr, cfg.train.warmup_steps, cfg.train.warmup_init_lr)
            for group in optimizer.param_groups:
                group["lr"] = lr
            stats = train_step(ctx, method, state.step, parts)
            state.step += 1
            state.train_seconds += time.perf_counter() - t0
            state.tokens_seen += sum(stats.n_tokens.values())
            state.bad_steps_in_a_row = 0 if stats.finite else state.bad_steps_in_a_row + 1
            state.bad_steps_total += 0 if stats.finite else 1
            window.append(stats)
            if not stats.finite:
                logger.log({"event": "non_finite", "step": state.step, "langs": stats.langs, "loss": stats.loss})
            if state.step % cfg.train.log_every == 0 or state.step == cfg.train.max_steps:
                _log_train(logger, window, state, lr, time.perf_counter() - t_window, method, bar)
                window, t_window = [], time.perf_counter()
            if bar is not None:
                bar.update(1)
            if state.bad_steps_in_a_row >= cfg.train.max_bad_steps:
                stopped = "non_finite"
                log.error("stopping: %d updates in a row had a non-finite loss or gradient (step %d, languages %s)",
                          state.bad_steps_in_a_row, state.step, ", ".join(stats.langs))
                break
            if probes is not None and state.step % cfg.train.analysis_every == 0:
                analyse()
            if state.step % cfg.train.valid_every == 0:
                validate()
            elif cfg.train.save_every and state.step % cfg.train.save_every == 0:
                checkpoint()
            timed_out = bool(cfg.train.max_minutes) and state.train_seconds > cfg.train.max_minutes * 60
            timed_out, signalled = distributed.any_rank([timed_out, stop.signal is not None])  # all stop together
            if timed_out or signalled:
                stopped = "max_minutes" if timed_out else "signal"
                if timed_out:
                    log.warning("stopping on the time cap (train.max_minutes=%g) after %d of %d updates",
                                cfg.train.max_minutes, state.step, cfg.train.max_steps)
                break
        if stopped in ("signal", "non_finite"):
            # A signal saves and leaves at once: no unscheduled validation, which would delay
            # the exit a preemption allows and could move best.pt off the uninterrupted run's.
            if saved_step != state.step:
                checkpoint()
        elif state.step % cfg.train.valid_every != 0:
            validate()
    if bar is not None:
        bar.close()
    logger.close()
    sampler.close()
    result = TrainResult(
        run_dir=run, steps=state.step, best_step=state.best_step, best_score=state.best_score,
        valid=state.last_valid, tokens_per_second=state.tokens_seen / max(state.train_seconds, 1e-9), stopped=stopped,
        signum=stop.signal or 0, target_tokens=state.tokens_seen, train_seconds=state.train_seconds,
    )
    if info.is_main:
        text = json.dumps(result.__dict__, default=str, indent=2) + "\n"
        _write_atomic(run / "summary.json", lambda tmp: tmp.write_text(text))
    distributed.shutdown()
    return result


def _checkpoint_state(
    model: nn.Module, optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler,
    method: Weighting, sampler: Any, state: TrainState, cfg: Config,
) -> dict[str, Any]:
    return {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scaler": scaler.state_dict(),
        "weighting": method.state_dict(),
        "sampler": sampler.state_dict(),
        "rng": rng_state(),
        "train_state": dict(state.__dict__),
        "step": state.step,
        "config": cfg.to_dict(),
    }


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
