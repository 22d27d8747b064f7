"""The command line as a new user meets it: ``catsmt data`` alone, ``train`` without a YAML,
the two-letter pivot hint, ``--device`` named, one run summary under torchrun."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from catsmt.cli import main
from catsmt.config import Config
from catsmt.training import trainer
from catsmt.training.trainer import TrainResult

from .data.test_prepare import two_letter_corpus


def test_data_alone_prints_the_data_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data"]) == 2
    out = capsys.readouterr().out
    assert out.startswith("usage: catsmt data ") and "list" in out and "get" in out
    assert "translate" not in out  # not the top-level help


@pytest.mark.parametrize("command", ["translate", "evaluate"])
def test_device_cuda_without_cuda_names_the_flag(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # a CPU machine, wherever this runs
    args = [command, str(tmp_path / "run"), "--src-lang", "en", "--tgt-lang", "be", "--device", "cuda"]
    assert main(args) == 2
    assert capsys.readouterr().err == (
        "catsmt: error: --device cuda: device 'cuda' asked for but no CUDA device is available; use cpu\n"
    )


@pytest.fixture
def trained(monkeypatch: pytest.MonkeyPatch) -> list[Config]:
    """``train`` replaced by one that records its config and returns a finished run."""
    seen: list[Config] = []

    def fake_train(cfg: Config, resume: bool = False) -> TrainResult:
        seen.append(cfg)
        return TrainResult(
            run_dir=Path(cfg.train.run_dir), steps=6, best_step=6, best_score=6.25,
            valid={"be": 6.5}, tokens_per_second=1000.0, stopped="max_steps",
        )

    monkeypatch.setattr(trainer, "train", fake_train)
    return seen


@pytest.mark.parametrize("how", [["--data", "my-corpus"], ["data.dir=my-corpus"]])
def test_train_without_a_yaml(how: list[str], trained: list[Config], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", *how, "data.format=tsv", "train.max_steps=6"]) == 0
    (cfg,) = trained
    assert (cfg.data.dir, cfg.data.format, cfg.train.max_steps) == ("my-corpus", "tsv", 6)
    assert cfg.data.pivot == Config().data.pivot and cfg.model == Config().model  # the rest: defaults
    assert "run: runs/default  (max_steps after 6 updates" in capsys.readouterr().out


def test_train_without_a_yaml_names_a_bad_override(trained: list[Config], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--data", "my-corpus", "data.piv=en"]) == 1
    assert "catsmt: error: command-line override: unknown key 'piv' in data; did you mean 'pivot'?" in capsys.readouterr().err
    assert main(["train"]) == 2 and not trained


def test_two_letter_codes_and_the_default_pivot_say_what_to_set(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = two_letter_corpus(tmp_path / "my-corpus")  # train.en-be.tsv, ...
    args = ["train", "--data", str(corpus), "data.format=tsv", f"train.run_dir={tmp_path / 'run'}", "train.device=cpu"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert f"no corpus files for pivot 'eng' in {corpus} (tsv layout)" in err
    assert err.rstrip().endswith("the files use 'en' in every pair: set data.pivot=en")


@pytest.mark.parametrize("rank,prints", [("0", True), ("1", False)])
def test_under_torchrun_rank_0_alone_prints_the_summary(
    rank: str, prints: bool, trained: list[Config], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in {"RANK": rank, "WORLD_SIZE": "2", "LOCAL_RANK": rank}.items():
        monkeypatch.setenv(key, value)
    assert main(["train", "--data", "my-corpus"]) == 0
    out = capsys.readouterr().out
    if prints:
        assert "best: step 6, selection score 6.2500" in out
    else:
        assert out == ""
