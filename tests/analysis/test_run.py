"""`catsmt analyze` over a run's checkpoints writes tables and figures."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch

from catsmt.analysis.run import analyze_run
from catsmt.cli import main
from catsmt.training.trainer import train

from ..training.conftest import tiny_config


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from catsmt.data.recipes import build

    torch.set_num_threads(1)
    base = tmp_path_factory.mktemp("analyze")
    build("synthetic", base / "data", sizes=[200, 200, 40, 40], valid=16, test=16, low_threshold=100)
    cfg = tiny_config(base / "data", base / "run", "train.max_steps=4", "train.valid_every=2", "train.keep_last=3",
                      "model.dim=32", "model.ffn_dim=64", "data.max_tokens=256")
    train(cfg)
    return base / "run"


def test_every_checkpoint_is_measured(run_dir: Path) -> None:
    files = analyze_run(run_dir, langs=["syna", "sync"], iters=3)
    names = {p.name for p in files}
    assert {"events.jsonl", "curvature.csv", "lambda_max.png", "gradsim.csv", "pairing.csv", "cosine.png",
            "similarity_heatmap.png"} <= names
    rows = list(csv.DictReader((run_dir / "analysis" / "curvature.csv").read_text().splitlines()))
    assert {(int(r["step"]), r["lang"]) for r in rows} == {(s, lang) for s in (2, 4) for lang in ("syna", "sync")}
    for p in files:
        assert p.stat().st_size > 0


def test_cli_rejects_unknown_languages_and_what(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", str(run_dir), "--langs", "xxx", "--iters", "1"]) == 1
    assert "xxx" in capsys.readouterr().err
    assert main(["analyze", str(run_dir), "--what", "hessian"]) == 1
    assert "--what takes curvature, gradsim, selfsim, got hessian" in capsys.readouterr().err


def test_figures_across_runs(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", str(run_dir), str(run_dir), "--labels", "a,b", "--langs", "syna,sync",
                 "--iters", "2", "--out", str(tmp_path / "cmp")]) == 0
    assert (tmp_path / "cmp" / "lambda_max_by_method.png").stat().st_size > 0
    assert (tmp_path / "cmp" / "cosine_by_method.png").stat().st_size > 0
    assert (tmp_path / "cmp" / "lambda_max_by_level.png").stat().st_size > 0
    assert (tmp_path / "cmp" / "cosine_hilo_by_method.png").stat().st_size > 0
    md = (tmp_path / "cmp" / "summary.md").read_text()
    assert "| a |" in md and "| b |" in md and "λ_max Lo early" in md
    from catsmt.analysis.run import compare_runs

    with pytest.raises(ValueError, match="2 runs but 1 labels"):
        compare_runs([run_dir, run_dir], tmp_path, ["a"])


def test_split_train_measures_training_pairs_and_a_bad_split_writes_nothing(run_dir: Path, tmp_path: Path) -> None:
    import json
    import shutil

    analyze_run(run_dir, what=["curvature"], langs=["syna"], iters=2, split="train")
    events = [json.loads(line) for line in (run_dir / "analysis" / "events.jsonl").read_text().splitlines()]
    assert events and {e["split"] for e in events} == {"train"}
    fresh = tmp_path / "run"
    shutil.copytree(run_dir, fresh, ignore=shutil.ignore_patterns("analysis"))
    with pytest.raises(ValueError, match="valid or train, got 'test'"):
        analyze_run(fresh, split="test")
    assert not (fresh / "analysis").exists()


def test_the_cosine_figure_across_runs_shows_one_pair(run_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import catsmt.analysis.run as run_module

    analyze_run(run_dir, langs=["syna", "synb", "sync"], iters=2)  # three pairs measured
    drawn: dict[str, list[dict]] = {}
    real = run_module.plot_curves

    def spy(records, path, **kw):  # type: ignore[no-untyped-def]
        drawn[Path(path).name] = list(records)
        return real(records, path, **kw)

    monkeypatch.setattr(run_module, "plot_curves", spy)
    run_module.compare_runs([run_dir, run_dir], tmp_path / "cmp", ["a", "b"])
    assert {r["pair"] for r in drawn["cosine_by_method.png"]} == {"syna-synb"}
    assert {r["method"] for r in drawn["cosine_by_method.png"]} == {"a", "b"}
