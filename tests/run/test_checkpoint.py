"""Checkpoints: atomic and verified, safe to load, with fallback to an older file."""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
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
    loaded, source = mgr.load_latest()
    assert loaded["step"] == 10 and source.name == "step-0000010.pt"
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


# -- a kill at every operation of a save ------------------------------------------------------

OPS = ("replace", "unlink", "symlink", "link", "rename", "fsync")


def killed_at(k: int, fn: Callable[[], object]) -> bool:
    """Run ``fn`` in a forked child that ``os._exit``s just before its k-th file operation;
    True when the child was stopped there (False: ``fn`` made fewer than k operations)."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        count = [0]
        for name in OPS:
            real = getattr(os, name)

            def op(*args: object, _real: Callable[..., object] = real, **kwargs: object) -> object:
                count[0] += 1
                if count[0] == k:
                    os._exit(17)
                return _real(*args, **kwargs)

            setattr(os, name, op)
        try:
            fn()
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 17


def test_overwriting_a_checkpoint_killed_anywhere_reads_the_old_or_the_new(tmp_path: Path) -> None:
    """Never a whole file beside a checksum of other bytes (which would read as corrupted
    for ever): at every kill point the file loads, as the old or the new checkpoint."""
    k = 1
    while True:
        path = tmp_path / f"k{k}" / "c.pt"
        path.parent.mkdir()
        save_checkpoint(state(1), path)
        if not killed_at(k, lambda path=path: save_checkpoint(state(2), path)):
            break
        assert load_checkpoint(path)["step"] in (1, 2), f"kill point {k}"
        k += 1
    assert k > 4, "the save made fewer file operations than expected"


def run_state(step: int, best_step: int) -> dict:
    return {**state(step), "train_state": {"best_step": best_step}}


def test_a_save_killed_anywhere_keeps_best_consistent_with_last(tmp_path: Path) -> None:
    """After any kill, best.pt is the best step that last.pt's checkpoint records (or the new
    step, validated, when the kill came after best.pt moved)."""
    k = 1
    while True:
        folder = tmp_path / f"k{k}"
        mgr = CheckpointManager(folder, keep_last=1)
        mgr.save(run_state(10, 10), 10, is_best=True)
        mgr.save(run_state(20, 10), 20)
        if not killed_at(k, lambda mgr=mgr: mgr.save(run_state(30, 30), 30, is_best=True)):
            break
        last = load_checkpoint(folder / "last.pt")
        best = load_checkpoint(folder / "best.pt")["step"]
        assert last["step"] in (20, 30), f"kill point {k}"
        assert best in (last["train_state"]["best_step"], 30), f"kill point {k}: best.pt holds {best}"
        if last["step"] == 30:
            assert best == 30, f"kill point {k}: committed step 30 is the best, best.pt holds {best}"
        k += 1
    assert k > 6


def test_roll_back_undoes_what_came_after_the_committed_checkpoint(tmp_path: Path) -> None:
    """Resuming from step 20 (whose record says best is 10): a step-30 file and a best.pt
    already moved to it belong to updates that will be replayed, maybe differently."""
    mgr = CheckpointManager(tmp_path, keep_last=5)
    mgr.save(run_state(10, 10), 10, is_best=True)
    mgr.save(run_state(20, 10), 20)
    save_checkpoint(run_state(30, 30), tmp_path / "step-0000030.pt")
    mgr._point("best.pt", "step-0000030.pt")  # a kill came after best.pt moved, before last.pt
    ck, source = mgr.load_latest()
    mgr.roll_back(source, ck["step"], ck["train_state"]["best_step"])
    assert load_checkpoint(tmp_path / "best.pt")["step"] == 10
    assert [s for s, _ in step_checkpoints(tmp_path)] == [10, 20]


def test_an_older_folder_with_regular_files_is_adopted(tmp_path: Path) -> None:
    """A folder of catsmt before the run package: last.pt and best.pt regular files, best.pt
    one step behind last (the kill the issue found). roll_back makes best.pt the recorded best,
    and the next save converts the pointers to links."""
    save_checkpoint(run_state(60, 60), tmp_path / "last.pt")
    save_checkpoint(run_state(40, 40), tmp_path / "best.pt")
    mgr = CheckpointManager(tmp_path, keep_last=0)
    ck, source = mgr.load_latest()
    assert source.name == "last.pt" and ck["step"] == 60
    mgr.roll_back(source, 60, 60)
    assert load_checkpoint(tmp_path / "best.pt")["step"] == 60
    mgr.save(run_state(70, 60), 70)
    assert (tmp_path / "last.pt").is_symlink() and load_checkpoint(tmp_path / "last.pt")["step"] == 70
    assert load_checkpoint(tmp_path / "best.pt")["step"] == 60
