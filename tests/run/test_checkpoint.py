"""Checkpoints: atomic and verified, safe to load, with fallback to an older file."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch

from catsmt.run.checkpoint import (
    CheckpointError,
    CheckpointManager,
    load_checkpoint,
    save_checkpoint,
    step_checkpoints,
)


def state(step: int) -> dict:
    return {"step": step, "model": {"w": torch.full((3,), float(step))}, "meta": {"langs": ["a", "b"]}}


def test_round_trip(tmp_path: Path) -> None:
    save_checkpoint(state(5), tmp_path / "c.pt")
    loaded = load_checkpoint(tmp_path / "c.pt")
    assert loaded["step"] == 5 and torch.equal(loaded["model"]["w"], torch.full((3,), 5.0))


def test_truncated_checkpoint_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "c.pt"
    save_checkpoint(state(1), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupted or truncated"):
        load_checkpoint(path)


def test_corrupted_byte_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "c.pt"
    save_checkpoint(state(1), path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupted"):
        load_checkpoint(path)


class Exploit:
    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, ("echo pwned > /dev/null",))


def test_pickled_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.pt"
    torch.save({"format_version": 1, "payload": Exploit()}, path)
    with pytest.raises(CheckpointError, match="refusing to load"):
        load_checkpoint(path)
    raw = tmp_path / "raw.pt"
    raw.write_bytes(pickle.dumps(Exploit()))
    with pytest.raises(CheckpointError):
        load_checkpoint(raw)


def test_manager_keeps_last_k_and_best(tmp_path: Path) -> None:
    mgr = CheckpointManager(tmp_path, keep_last=2)
    for step in (10, 20, 30):
        mgr.save(state(step), step, is_best=step == 20)
    assert [s for s, _ in step_checkpoints(tmp_path)] == [20, 30]
    assert load_checkpoint(tmp_path / "best.pt")["step"] == 20
    assert load_checkpoint(tmp_path / "last.pt")["step"] == 30


def test_corrupted_last_falls_back_to_previous(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    mgr = CheckpointManager(tmp_path, keep_last=3)
    for step in (10, 20):
        mgr.save(state(step), step)
    # A crash that damaged the newest files: last.pt and its step file share the data.
    for name in ("last.pt", "step-0000020.pt"):
        p = tmp_path / name
        os.unlink(p)
        p.write_bytes(b"garbage")
    loaded = mgr.load_latest()
    assert loaded["step"] == 10
    assert "trying an older checkpoint" in caplog.text


def test_failed_write_leaves_previous_intact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.pt"
    save_checkpoint(state(1), path)

    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        save_checkpoint(state(2), path)
    monkeypatch.undo()
    assert load_checkpoint(path)["step"] == 1
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]


def test_no_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no usable checkpoint"):
        CheckpointManager(tmp_path).load_latest()
