"""The training checkpoint schema: written once, read for this schema and the one before."""

from __future__ import annotations

import pytest
import torch

from catsmt.run.checkpoint import CheckpointError
from catsmt.run.state import SCHEMA_VERSION, TrainingState, checkpoint_step, read_training_state


def entries() -> dict:
    return {"config": {"train": {"lr": 0.1}}, "model": {"w": torch.ones(2)}, "optimizer": {}, "scaler": {},
            "weighting": {"alpha": torch.tensor([0.5, 0.5])}, "sampler": {"pos": 3}}


def test_round_trip_keeps_the_step_once() -> None:
    state = TrainingState(step=7, rng=[{"r": 0}, {"r": 1}], train_state={"best_step": 4}, **entries())
    ck = state.to_checkpoint()
    assert ck["schema"] == SCHEMA_VERSION and ck["step"] == 7 and "step" not in ck["train_state"]
    back = read_training_state(ck)
    assert back.step == 7 and back.rng == [{"r": 0}, {"r": 1}] and back.train_state == {"best_step": 4}


def test_schema_1_single_process() -> None:
    """Before the run package: the step twice, one RNG state as ``rng``."""
    ck = {"format_version": 1, "step": 9, "rng": {"r": 0}, "train_state": {"step": 9, "best_step": 8}, **entries()}
    back = read_training_state(ck)
    assert back.step == 9 and back.rng == [{"r": 0}] and back.train_state == {"best_step": 8}
    assert checkpoint_step(ck) == 9


def test_schema_1_under_ddp_keeps_every_rank() -> None:
    ck = {"step": 9, "rng": {"r": 0}, "rng_ranks": [{"r": 0}, {"r": 1}], "train_state": {"step": 9}, **entries()}
    assert read_training_state(ck).rng == [{"r": 0}, {"r": 1}]


def test_a_newer_schema_and_a_non_training_checkpoint_are_named() -> None:
    with pytest.raises(CheckpointError, match=f"schema {SCHEMA_VERSION + 1}; this catsmt reads up to"):
        read_training_state({"schema": SCHEMA_VERSION + 1, **entries()})
    with pytest.raises(CheckpointError, match="is not a training checkpoint"):
        read_training_state({"schema": SCHEMA_VERSION, "model": {}})
