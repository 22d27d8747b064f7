"""A kill at every write boundary of a checkpoint save: resuming gives the uninterrupted run.

The training runs in a forked child whose file operations are patched: the child counts the
calls to ``os.replace``, ``os.unlink``, ``os.symlink``, ``os.link``, ``os.rename`` and
``os.fsync`` made inside the save at step ``KILLED_SAVE`` and calls ``os._exit`` just before
the k-th (nothing runs after it: no ``finally``, no flush), for every k in turn, and once
just after the last. The parent then checks what a user could do at that moment (``best.pt``
and ``last.pt`` load, and ``best.pt`` holds a validated step), resumes the way
``catsmt train --resume`` does, and compares every tensor of the final checkpoint, the best
checkpoint and ``metrics.jsonl`` with an uninterrupted run.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import torch

from catsmt.run import checkpoint as checkpoint_mod
from catsmt.run.checkpoint import load_checkpoint
from catsmt.run.folder import resume_config
from catsmt.training.trainer import train

from .conftest import tiny_config
from .test_kill_resume import events, same

MAX_STEPS = 6
KILLED_SAVE = 4  # a validation save in the middle of the run (the best so far)
OPS = ("replace", "unlink", "symlink", "link", "rename", "fsync")
KILLED = 17  # the child's exit status when it stopped itself at the chosen operation


def settings(keep_last: int, method: str) -> tuple[str, ...]:
    return (f"train.max_steps={MAX_STEPS}", "train.log_every=1", "train.valid_every=2",
            f"train.keep_last={keep_last}", f"weighting.method={method}")


def patched_run(cfg: Any, kill_at: int | None) -> list[str]:
    """Train ``cfg`` with the file operations of the save at ``KILLED_SAVE`` counted; with
    ``kill_at`` = k, ``os._exit`` just before the k-th (just after the last when k is past
    the end). Returns the operations seen (when not killed)."""
    seen: list[str] = []
    armed = [False]
    for name in OPS:
        real = getattr(os, name)

        def op(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            if armed[0]:
                seen.append(_name)
                if kill_at is not None and len(seen) == kill_at:
                    os._exit(KILLED)
            return _real(*args, **kwargs)

        setattr(os, name, op)
    real_save = checkpoint_mod.CheckpointManager.save

    def save(self: Any, state: dict[str, Any], step: int, is_best: bool = False) -> Path:
        armed[0] = step == KILLED_SAVE
        try:
            return real_save(self, state, step, is_best)
        finally:
            armed[0] = False
            if step == KILLED_SAVE and kill_at is not None and kill_at > len(seen):
                os._exit(KILLED)  # just after the save's last operation

    checkpoint_mod.CheckpointManager.save = save  # type: ignore[method-assign]
    train(cfg)
    return seen


def in_child(fn: Any) -> int:
    """Run ``fn`` in a forked child; its exit status (0 when ``fn`` returned)."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            fn()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def model_of(path: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(path)["model"]


@pytest.fixture(scope="module", params=[
    ("temperature", 1), ("cats", 1), pytest.param(("temperature", 0), marks=pytest.mark.slow),
], ids=["temperature", "cats", "temperature-keep0"])
def case(request: pytest.FixtureRequest, synthetic_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The uninterrupted run, and the operations of its save at ``KILLED_SAVE``."""
    method, keep_last = request.param
    root = tmp_path_factory.mktemp(f"faults-{method}-{keep_last}")
    ref = root / "reference"
    train(tiny_config(synthetic_dir, ref, *settings(keep_last, method)))
    probe = root / "probe"
    ops_file = root / "ops.txt"

    def record() -> None:
        ops_file.write_text(" ".join(patched_run(tiny_config(synthetic_dir, probe, *settings(keep_last, method)), None)))

    assert in_child(record) == 0
    ops = ops_file.read_text().split()
    assert "symlink" in ops and "fsync" in ops, ops
    return {"method": method, "keep_last": keep_last, "root": root, "reference": ref, "ops": ops,
            "synthetic_dir": synthetic_dir}


def test_every_kill_point_of_a_save_resumes_to_the_uninterrupted_run(case: dict[str, Any]) -> None:
    ref, ops = case["reference"], case["ops"]
    ref_last = load_checkpoint(ref / "checkpoints" / "last.pt")
    ref_best = model_of(ref / "checkpoints" / "best.pt")
    ref_events = events(ref)
    for k in range(1, len(ops) + 2):
        where = f"killed before {ops[k - 1]} #{k}" if k <= len(ops) else "killed just after the save"
        run = case["root"] / f"kill-{k}"
        cfg = tiny_config(case["synthetic_dir"], run, *settings(case["keep_last"], case["method"]))
        assert in_child(lambda cfg=cfg, k=k: patched_run(cfg, k)) == KILLED, where
        ckpts = run / "checkpoints"
        # What a user has at this moment: readable pointers; best.pt a validated step.
        committed = load_checkpoint(ckpts / "last.pt")
        best_step = committed["train_state"]["best_step"]
        assert committed["step"] in (2, 4), f"{where}: last.pt holds step {committed['step']}"
        assert load_checkpoint(ckpts / "best.pt")["step"] in (best_step, 4), (
            f"{where}: best.pt is not the best step ({best_step}) of the committed checkpoint"
        )
        train(resume_config(run), resume=True)
        last = load_checkpoint(ckpts / "last.pt")
        assert last["step"] == MAX_STEPS, where
        for entry in ("model", "optimizer", "weighting", "sampler", "rng", "train_state"):
            if entry == "train_state":
                a = {k2: v for k2, v in ref_last[entry].items() if k2 != "train_seconds"}
                b = {k2: v for k2, v in last[entry].items() if k2 != "train_seconds"}
            else:
                a, b = ref_last[entry], last[entry]
            assert same(a, b), f"{where}: {entry} differs from the uninterrupted run's"
        best = model_of(ckpts / "best.pt")
        assert all(torch.equal(best[n], ref_best[n]) for n in ref_best), f"{where}: best.pt differs"
        assert events(run) == ref_events, f"{where}: metrics.jsonl differs"
        leftovers = [p.name for p in ckpts.iterdir() if ".tmp-" in p.name]
        assert not leftovers, f"{where}: temporary files left: {leftovers}"
