"""Kill and resume: a run stopped at any moment continues to the same parameters, bit for bit.

``catsmt train`` runs as a subprocess on the tiny synthetic corpus. It is killed (SIGKILL at a
seeded random moment, which may fall inside an update, a validation or a checkpoint write) or
stopped (SIGTERM, SIGINT: it finishes the update, saves and exits), then continued with
``catsmt train --resume RUN``. The final parameters, the weighting and sampler state, the best
checkpoint and ``metrics.jsonl`` (timings aside; no update logged twice) must equal those of an
uninterrupted run on the CPU.

``CATSMT_KILL_SEED=N`` picks other kill moments when hunting for a failure.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch

from catsmt.cli import main
from catsmt.config import save_config
from catsmt.run.checkpoint import load_checkpoint
from catsmt.run.metrics import read_metrics
from catsmt.training.trainer import train

from .conftest import tiny_config

MAX_STEPS = 12
SETTINGS = (f"train.max_steps={MAX_STEPS}", "train.log_every=1", "train.valid_every=4", "train.keep_last=2")
# Checkpoints do not change the numbers, so one reference serves every save_every.
SEED = int(os.environ.get("CATSMT_KILL_SEED", "20240611"))
TIMING = ("tokens_per_s",)  # event fields that depend on the clock


@pytest.fixture(scope="module")
def reference(synthetic_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The uninterrupted run (in this process: the numbers do not depend on it)."""
    run = tmp_path_factory.mktemp("reference") / "run"
    train(tiny_config(synthetic_dir, run, *SETTINGS))
    return run


def write_config(synthetic_dir: Path, run: Path, save_every: int) -> Path:
    path = run.parent / "config.yaml"
    save_config(tiny_config(synthetic_dir, run, *SETTINGS, f"train.save_every={save_every}"), path)
    return path


def launch(*args: str, log: Path) -> subprocess.Popen[bytes]:
    """``python -m catsmt ARGS`` as one single-process run, its output in ``log``."""
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "catsmt", *args], stdout=out, stderr=out, env=env)


def updates_logged(run: Path) -> int:
    """Updates whose summary ``train`` event is in metrics.jsonl (one per update here)."""
    try:
        return (run / "metrics.jsonl").read_text(errors="replace").count('"lang": "all"')
    except FileNotFoundError:
        return 0


def wait_for_updates(proc: subprocess.Popen[bytes], run: Path, n: int, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while updates_logged(run) < n:
        if proc.poll() is not None:
            pytest.fail(f"the run exited ({proc.returncode}) before update {n}:\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"no update {n} after {timeout} s:\n{log.read_text()[-3000:]}")
        time.sleep(0.005)


def finish(proc: subprocess.Popen[bytes], log: Path, expect: int) -> None:
    try:
        rc = proc.wait(timeout=90)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert rc == expect, f"exit code {rc}, expected {expect}:\n{log.read_text()[-3000:]}"


def events(run: Path) -> list[dict[str, Any]]:
    return [{k: v for k, v in e.items() if k not in TIMING} for e in read_metrics(run / "metrics.jsonl")]


def same(a: Any, b: Any) -> bool:
    """Equal plain data, tensors compared bitwise."""
    if isinstance(a, torch.Tensor):
        if not (isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape):
            return False
        if a.is_floating_point():  # bitwise, NaN equal to NaN (a language not seen yet)
            return bool(torch.equal(a.isnan(), b.isnan()) and torch.equal(a.nan_to_num(), b.nan_to_num()))
        return torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(map(same, a, b))
    return bool(a == b)


def assert_same_run(run: Path, reference: Path) -> None:
    a = load_checkpoint(reference / "checkpoints" / "last.pt")
    b = load_checkpoint(run / "checkpoints" / "last.pt")
    assert b["step"] == a["step"] == MAX_STEPS
    assert a["model"].keys() == b["model"].keys()
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), f"parameter {k} differs"
    assert same(a["weighting"], b["weighting"]), "weighting state differs"
    assert same(a["sampler"], b["sampler"]), "sampler state differs"
    assert events(run) == events(reference), "metrics.jsonl differs from the uninterrupted run's"
    steps = [e["step"] for e in read_metrics(run / "metrics.jsonl") if e.get("lang") == "all"]
    assert steps == list(range(1, MAX_STEPS + 1)), "an update is logged twice or not at all"
    sa, sb = (json.loads((r / "summary.json").read_text()) for r in (reference, run))
    assert (sb["best_step"], sb["best_score"], sb["valid"]) == (sa["best_step"], sa["best_score"], sa["valid"])
    best_a, best_b = (load_checkpoint(r / "checkpoints" / "best.pt")["model"] for r in (reference, run))
    assert all(torch.equal(best_a[k], best_b[k]) for k in best_a), "best.pt differs from the uninterrupted run's"
    leftovers = [p.name for p in (run / "checkpoints").iterdir() if ".tmp-" in p.name]
    assert not leftovers, f"temporary files of a killed save were not cleaned up: {leftovers}"


def kill_inside_a_save(proc: subprocess.Popen[bytes], run: Path, timeout: float = 60) -> list[str]:
    """SIGKILL the run as soon as a checkpoint's temporary file is seen; returns those files."""
    folder, deadline = run / "checkpoints", time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        seen = [p.name for p in folder.iterdir() if ".tmp-" in p.name] if folder.is_dir() else []
        if seen:
            proc.send_signal(signal.SIGKILL)
            return seen
    pytest.fail("no checkpoint write was caught before the run ended")


@pytest.mark.parametrize("moment", ["random", "inside_a_save"])
def test_sigkill_then_resume_is_exact(
    synthetic_dir: Path, tmp_path: Path, reference: Path, moment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = random.Random(f"{SEED}-{moment}")
    run, log = tmp_path / "run", tmp_path / "log.txt"
    after = rng.randint(1, MAX_STEPS - 4)
    # Saving every 3 updates, a random kill mostly leaves updates logged after the last
    # checkpoint, and may leave a torn metrics line.
    save_every = 3 if moment == "random" else 1
    proc = launch("train", str(write_config(synthetic_dir, run, save_every)), log=log)
    wait_for_updates(proc, run, after, log)
    if moment == "random":
        time.sleep(rng.uniform(0.0, 0.15))  # somewhere in the next update, its validation or its save
        proc.send_signal(signal.SIGKILL)
    else:
        kill_inside_a_save(proc, run)
    finish(proc, log, -signal.SIGKILL)
    assert updates_logged(run) < MAX_STEPS, "the run finished before it was killed; kill earlier"

    assert main(["train", "--resume", str(run)]) == 0  # in this process: only the killed run must be one
    assert_same_run(run, reference)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stop_signal_saves_then_resume_is_exact(
    synthetic_dir: Path, tmp_path: Path, reference: Path, sig: signal.Signals,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rng = random.Random(SEED + sig)
    run, log = tmp_path / "run", tmp_path / "log.txt"
    at = rng.randint(1, MAX_STEPS - 3)
    # Checkpoints at validation only (every 4): the save on the signal is the run's own.
    proc = launch("train", str(write_config(synthetic_dir, run, save_every=0)), log=log)
    wait_for_updates(proc, run, at, log)
    proc.send_signal(sig)
    finish(proc, log, 128 + sig)  # not finished: exit as a process killed by `sig` would
    stopped = load_checkpoint(run / "checkpoints" / "last.pt")["step"]
    assert at <= stopped < MAX_STEPS, "the update under way is finished, then the run saves and stops"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["stopped"] == "signal" and summary["steps"] == stopped
    assert max(e["step"] for e in read_metrics(run / "metrics.jsonl")) == stopped
    assert f"stopped by {sig.name} after {stopped} updates; checkpoint saved; continue with: catsmt train --resume {run}" in log.read_text()

    assert main(["train", "--resume", str(run)]) == 0
    assert_same_run(run, reference)


def test_resume_before_the_first_checkpoint_starts_over(
    tmp_path: Path, reference: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A run killed before its first save (its events logged, no checkpoint) starts from step 0."""
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(reference / "config.yaml", run / "config.yaml")
    lines = (reference / "metrics.jsonl").read_text().splitlines(keepends=True)
    (run / "metrics.jsonl").write_text("".join(lines[:5]) + lines[5][:17])  # ends in a torn line
    assert main(["train", "--resume", str(run)]) == 0
    assert "no checkpoint in" in caplog.text and "starting the run from step 0" in caplog.text
    assert_same_run(run, reference)


TRIALS = int(os.environ.get("CATSMT_KILL_TRIALS", "20"))


@pytest.mark.slow
def test_random_sigkills_then_resume_is_exact(synthetic_dir: Path, tmp_path: Path, reference: Path) -> None:
    """``TRIALS`` runs, each SIGKILLed at up to three random moments (any instruction: an
    update, a validation, a save) and resumed after each, end equal to the uninterrupted run."""
    rng = random.Random(f"{SEED}-trials")
    kills = 0
    for trial in range(TRIALS):
        run, log = tmp_path / f"run{trial}", tmp_path / f"log{trial}.txt"
        config = write_config(synthetic_dir, run, save_every=rng.choice([0, 1, 3]))
        args = ["train", str(config)]
        for _ in range(rng.randint(1, 3)):
            done = updates_logged(run)
            if done >= MAX_STEPS - 1:
                break
            proc = launch(*args, log=log)
            wait_for_updates(proc, run, min(done + rng.randint(1, 4), MAX_STEPS - 1), log)
            time.sleep(rng.uniform(0.0, 0.2))
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=90)
            kills += proc.returncode == -signal.SIGKILL
            args = ["train", "--resume", str(run)]
        assert main(["train", "--resume", str(run)]) == 0, f"trial {trial}"
        assert_same_run(run, reference)
    print(f"{TRIALS} runs, {kills} SIGKILLs, every one resumed exactly")
