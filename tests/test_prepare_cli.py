"""``catsmt prepare DIR``: the table, the exit code, and a starter config that trains on DIR."""

from __future__ import annotations

from pathlib import Path

import pytest

from catsmt.cli import main
from catsmt.config import load_config

from .data.test_prepare import two_letter_corpus, write_tsv


def test_prepare_prints_the_table_and_writes_a_starter_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = two_letter_corpus(tmp_path / "c")
    out = tmp_path / "configs" / "c.yaml"
    assert main(["prepare", str(folder), "--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    assert "corpus " in stdout and "(tsv layout): 2 pairs, languages: be, en, ru" in stdout
    assert f"train with: catsmt train --data {folder} data.format=tsv data.pivot=en data.direction=o2m" in stdout
    assert f"wrote {out}; train with: catsmt train {out}" in stdout
    cfg = load_config(out)
    assert (cfg.data.dir, cfg.data.format, cfg.data.pivot, cfg.data.direction) == (str(folder.resolve()), "tsv", "en", "o2m")
    assert cfg.train.run_dir == "runs/c"


def test_prepare_never_writes_over_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = two_letter_corpus(tmp_path / "c")
    out = tmp_path / "mine.yaml"
    out.write_text("data: {dir: elsewhere}\n")
    assert main(["prepare", str(folder), "--out", str(out)]) == 2
    assert f"catsmt: error: --out {out} exists; nothing written" in capsys.readouterr().err
    assert out.read_text() == "data: {dir: elsewhere}\n"


def test_prepare_exits_1_on_problems_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = two_letter_corpus(tmp_path / "c")
    write_tsv(folder, "train.en-uk.tsv", 3)
    out = tmp_path / "c.yaml"
    assert main(["prepare", str(folder), "--out", str(out)]) == 1
    captured = capsys.readouterr()
    assert "problem: language 'uk' has no valid split (training needs it): expected valid.en-uk.tsv" in captured.out
    assert "catsmt: 1 problem in" in captured.err and not out.exists()


def test_prepare_with_pairs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "c"
    for split in ("train", "valid"):
        write_tsv(folder, f"{split}.de-fr.tsv", 4)
    assert main(["prepare", str(folder), "--direction", "pairs", "--pairs", "de-fr,fr-de"]) == 0
    stdout = capsys.readouterr().out
    assert "training tasks (direction=pairs): de->fr, fr->de" in stdout
    assert "data.direction=pairs data.pairs=de-fr,fr-de" in stdout
    assert "pairs:\n  - de-fr\n  - fr-de\n" in stdout  # the suggested YAML, printed without --out
