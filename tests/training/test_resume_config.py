"""Resuming a run folder: the checkpoint's config is the truth, the folder is locked, and a
change the checkpoint cannot take is refused before anything is written."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from catsmt.cli import main
from catsmt.config import save_config
from catsmt.run.checkpoint import load_checkpoint
from catsmt.run.folder import RunFolder
from catsmt.training.trainer import train

from .conftest import tiny_config

SETTINGS = ("train.valid_every=2", "train.log_every=1", "model.dim=32", "model.ffn_dim=64", "data.max_tokens=384",
            "train.lr=0.004", "train.warmup_steps=3")


@pytest.fixture()
def stopped(synthetic_dir: Path, tmp_path: Path) -> Path:
    """A run stopped at update 4 of a planned 4, to be continued to 6."""
    run = tmp_path / "run"
    train(tiny_config(synthetic_dir, run, "train.max_steps=4", *SETTINGS))
    return run


def error_line(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(list(argv)) == 1
    return capsys.readouterr().err.strip().splitlines()[-1]


def snapshot(run: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run)): p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()}


def test_a_torn_config_yaml_is_named_and_not_trained_with(
    stopped: Path, synthetic_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    straight = tmp_path / "straight"
    train(tiny_config(synthetic_dir, straight, "train.max_steps=6", *SETTINGS))
    config = stopped / "config.yaml"
    lines = config.read_text().splitlines(keepends=True)
    config.write_text("".join(lines[: len(lines) // 3]))  # cut at a line: still valid YAML
    assert main(["train", "--resume", str(stopped), "train.max_steps=6"]) == 0
    assert "differs from the config stored in step-0000004.pt: it lacks" in caplog.text
    a, b = (load_checkpoint(r / "checkpoints" / "last.pt") for r in (straight, stopped))
    assert b["step"] == 6 and all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert b["config"]["train"]["lr"] == 0.004
    assert "lr: 0.004" in config.read_text()  # rewritten from the config trained with


def test_an_edited_config_yaml_is_named(stopped: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = stopped / "config.yaml"
    config.write_text(config.read_text().replace("lr: 0.004", "lr: 0.1"))
    assert main(["train", "--resume", str(stopped), "train.max_steps=5"]) == 0
    assert "it changes train.lr 0.004 -> 0.1" in caplog.text
    assert load_checkpoint(stopped / "checkpoints" / "last.pt")["config"]["train"]["lr"] == 0.004


@pytest.mark.parametrize(("override", "named"), [
    ("model.dim=64", "model.dim 32 -> 64"),
    ("data.vocab_size=150", "data.vocab_size 200 -> 150"),
    ("weighting.method=cats", "weighting.method 'temperature' -> 'cats'"),
])
def test_a_change_the_checkpoint_cannot_take_is_refused(
    stopped: Path, capsys: pytest.CaptureFixture[str], override: str, named: str
) -> None:
    before = snapshot(stopped)
    line = error_line(capsys, "train", "--resume", str(stopped), "train.max_steps=6", override)
    assert line.startswith("catsmt: error: cannot resume") and named in line and "start a new run" in line
    assert snapshot(stopped) == before


def test_a_second_process_in_the_same_folder_is_refused(stopped: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(stopped)
    with RunFolder(stopped).lock():  # as a `catsmt train --resume` running in another process
        line = error_line(capsys, "train", "--resume", str(stopped), "train.max_steps=6")
    assert "is in use by another catsmt process (pid" in line
    after = snapshot(stopped)
    after.pop(".lock"), before.pop(".lock")  # the holder wrote its pid there
    assert after == before
    assert main(["train", "--resume", str(stopped), "train.max_steps=6"]) == 0  # free again


def test_a_new_run_into_a_locked_folder_is_refused(
    synthetic_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "fresh"
    config = tmp_path / "c.yaml"
    save_config(tiny_config(synthetic_dir, run, "train.max_steps=2", *SETTINGS), config)
    with RunFolder(run).lock():
        line = error_line(capsys, "train", str(config))
    assert "is in use by another catsmt process" in line
    assert not (run / "checkpoints").exists()
