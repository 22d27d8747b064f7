"""What a training checkpoint holds: one schema, written in one place, read in one place.

A checkpoint is a plain dict (tensors, numbers, strings, lists, dicts: it is loaded with
``weights_only=True``)::

    schema        SCHEMA_VERSION
    step          updates done -- the only place the step is stored
    config        the resolved config the run trains with: the source of truth on resume
    model         the model's state_dict (of the uncompiled, unwrapped module)
    optimizer     the optimizer's state_dict
    scaler        the fp16 GradScaler's state_dict
    weighting     the weighting method's state_dict
    sampler       the batch sampler's state_dict (its RNG and position)
    rng           one RNG state per rank of the run that saved it (dropout streams)
    train_state   the loop's counters besides the step (best score and step, tokens, ...)

Schema 1 (catsmt before the run package) kept the step twice and the RNG as ``rng`` (rank 0)
plus ``rng_ranks`` under DDP; :func:`read_training_state` reads both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from catsmt.run.checkpoint import CheckpointError

SCHEMA_VERSION = 2

#: Entries every training checkpoint of the current schema has.
_ENTRIES = ("step", "config", "model", "optimizer", "scaler", "weighting", "sampler", "rng", "train_state")


@dataclass
class TrainingState:
    """A training checkpoint, read: everything :func:`catsmt.training.train` restores."""

    step: int
    config: dict[str, Any]
    model: dict[str, Any]
    optimizer: dict[str, Any]
    scaler: dict[str, Any]
    weighting: dict[str, Any]
    sampler: dict[str, Any]
    rng: list[Any]  # one per rank of the run that saved it
    train_state: dict[str, Any]  # without the step

    def to_checkpoint(self) -> dict[str, Any]:
        """The dict :func:`catsmt.run.checkpoint.save_checkpoint` writes."""
        return {"schema": SCHEMA_VERSION, **{name: getattr(self, name) for name in _ENTRIES}}


def read_training_state(ck: Mapping[str, Any], source: str = "checkpoint") -> TrainingState:
    """A :class:`TrainingState` from a loaded checkpoint of any schema this version knows.

    Raises:
        CheckpointError: a newer schema, or an entry missing (a checkpoint saved by
            something other than training, such as an exported model).
    """
    schema = int(ck.get("schema", 1))
    if schema > SCHEMA_VERSION:
        raise CheckpointError(
            f"{source} has checkpoint schema {schema}; this catsmt reads up to {SCHEMA_VERSION} (upgrade catsmt)"
        )
    data = dict(ck)
    if schema == 1:
        data["rng"] = list(ck.get("rng_ranks") or [ck.get("rng")])
        train_state = dict(ck.get("train_state", {}))
        data["step"] = int(ck.get("step", train_state.get("step", 0)))
        train_state.pop("step", None)
        data["train_state"] = train_state
    missing = [name for name in _ENTRIES if name not in data]
    if missing:
        raise CheckpointError(f"{source} is not a training checkpoint (no {', '.join(missing)})")
    return TrainingState(**{name: data[name] for name in _ENTRIES})


def checkpoint_step(ck: Mapping[str, Any]) -> int:
    """The step a checkpoint of any schema was saved at (``-1`` when it records none)."""
    if "step" in ck:
        return int(ck["step"])
    return int(ck.get("train_state", {}).get("step", -1))
