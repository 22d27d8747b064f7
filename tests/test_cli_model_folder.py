"""``catsmt export``, then ``catsmt translate OUT`` and ``catsmt evaluate OUT`` as a user runs them.

Most commands run in this process through ``catsmt.cli.main``; one test starts the real
``catsmt`` executable in a fresh folder, with the corpus deleted, as the README says.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from catsmt.cli import main
from catsmt.decoding.translator import load_model
from catsmt.evaluation.scores import score_language

from .run.test_inference import BRIEF, trained_run
from .run.test_model_folder import held_out_sources, private_checkpoint, snapshot
from .test_cli import catsmt

CATSMT = str(Path(sys.executable).with_name("catsmt"))


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained_run(tmp_path_factory, "brief", BRIEF)


@pytest.fixture(scope="module")
def exported(run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("exported") / "model"
    assert main(["export", str(run), str(out)]) == 0
    return out


def test_export_and_translate_from_the_folder_as_from_the_run(
    run: Path, exported: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = held_out_sources(run, 8)["synb"]
    stdin = "".join(line + "\n" for line in [*lines[:4], "", *lines[4:]]).encode()
    common = ["--src-lang", "synb", "--tgt-lang", "eng", "--device", "cpu", "--beam", "2"]
    code, from_run, err = catsmt(capsys, monkeypatch, ["translate", str(run), *common], stdin)
    assert code == 0, err
    code, from_folder, err = catsmt(capsys, monkeypatch, ["translate", str(exported), *common], stdin)
    assert code == 0, err
    assert from_folder == from_run and from_folder.count("\n") == 9 and from_folder.splitlines()[4] == ""


def test_export_prints_what_it_wrote(run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "last"
    code, stdout, err = catsmt(capsys, monkeypatch, ["export", str(run), str(out), "--checkpoint", "last"])
    assert code == 0, err
    assert stdout.strip() == f"wrote {out} (safetensors): step 90, syna-eng, synb-eng"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--checkpoint", "step-9.pt"], "no checkpoint "),
        (["--average-last", "9"], "cannot average the last 9 checkpoints"),
        (["--average-last", "2", "--checkpoint", "last"], "cannot be combined with --checkpoint last"),
    ],
)
def test_export_bad_checkpoint_is_one_line_and_creates_nothing(
    run: Path, tmp_path: Path, extra: list[str], message: str,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = tmp_path / "parent" / "out"
    code, _, err = catsmt(capsys, monkeypatch, ["export", str(run), str(out), *extra])
    assert code == 1 and err.startswith("catsmt: error: ") and message in err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_export_into_a_folder_that_is_not_empty_is_refused(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine\n")
    before = snapshot(tmp_path)
    code, _, err = catsmt(capsys, monkeypatch, ["export", str(run), str(out)])
    assert code == 1 and err == f"catsmt: error: {out} exists and is not empty; choose another output folder or remove it\n"
    assert snapshot(tmp_path) == before
    code, _, err = catsmt(capsys, monkeypatch, ["export", str(tmp_path / "no-run"), str(tmp_path / "x")])
    assert code == 1 and "no such run folder or checkpoint file" in err and not (tmp_path / "x").exists()


def test_evaluate_a_model_folder_on_files(
    run: Path, exported: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sources = held_out_sources(run, 10)["syna"]
    refs = [f"reference {i}" for i in range(len(sources))]
    src_file, ref_file = tmp_path / "test.syna", tmp_path / "test.eng"
    src_file.write_text("".join(s + "\n" for s in sources))
    ref_file.write_text("".join(r + "\n" for r in refs))
    scores_file = tmp_path / "scores" / "mine.json"
    args = ["evaluate", str(exported), "--src", str(src_file), "--ref", str(ref_file), "--src-lang", "syna",
            "--tgt-lang", "eng", "--beam", "1", "--device", "cpu", "--out", str(scores_file)]
    before = snapshot(exported)
    code, out, err = catsmt(capsys, monkeypatch, args)
    assert code == 0, err
    hyps = load_model(exported).translate(sources, src_lang="syna", tgt_lang="eng", beam=1)
    expected = score_language(hyps, refs)
    lines = out.splitlines()
    assert lines[0] == f"syna-eng: BLEU {expected['bleu']:.2f}  chrF {expected['chrf']:.2f}  (10 sentences, beam 1)"
    assert lines[2] == expected["signature"]["bleu"] and lines[3] == expected["signature"]["chrf"]
    result = json.loads(scores_file.read_text())
    assert result["bleu"] == expected["bleu"] and result["step"] == 90 and result["decode"]["beam"] == 1
    assert (tmp_path / "scores" / "hyps" / "mine.syna-eng.hyp").read_text().splitlines() == hyps
    assert snapshot(exported) == before


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "needs --src, --ref, --src-lang, --tgt-lang: a model folder has no held-out split"),
        (["--src", "S", "--src-lang", "syna", "--tgt-lang", "eng"], "needs --ref"),
        (["--src", "S", "--ref", "R2", "--src-lang", "syna", "--tgt-lang", "eng"], "--src S has 2 lines but --ref R2 has 1"),
        (["--src", "S", "--ref", "R", "--src-lang", "syna", "--tgt-lang", "eng", "--langs", "syna"], "--split and --langs choose a run's held-out data"),
        (["--src", "missing", "--ref", "R", "--src-lang", "syna", "--tgt-lang", "eng"], "--src missing: No such file or directory"),
    ],
)
def test_evaluate_on_files_bad_arguments(
    exported: Path, tmp_path: Path, extra: list[str], message: str,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("S").write_text("a\nb\n")
    Path("R").write_text("x\ny\n")
    Path("R2").write_text("x\n")
    code, _, err = catsmt(capsys, monkeypatch, ["evaluate", str(exported), "--device", "cpu", *extra])
    assert code == 2 and err.startswith("catsmt: error: ") and message in err and err.count("\n") == 1


def test_user_exports_deletes_the_corpus_and_translates_in_a_fresh_folder(run: Path, tmp_path: Path) -> None:
    """As the README says: ``catsmt export RUN OUT``, then ``catsmt translate OUT`` anywhere."""
    run2, corpus = private_checkpoint(run, tmp_path / "work")
    lines = held_out_sources(run, 6)["synb"]
    stdin = "".join(line + "\n" for line in lines)
    expected = load_model(run2).translate(lines, src_lang="synb", tgt_lang="eng", beam=2)
    exported = subprocess.run(
        [CATSMT, "export", str(run2), "model"], cwd=tmp_path / "work", capture_output=True, text=True, timeout=300
    )
    assert exported.returncode == 0, exported.stderr
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    shutil.move(tmp_path / "work" / "model", fresh / "model")
    shutil.rmtree(tmp_path / "work")
    before = snapshot(tmp_path)
    translated = subprocess.run(
        [CATSMT, "translate", "model", "--src-lang", "synb", "--tgt-lang", "eng", "--beam", "2", "--threads", "1"],
        cwd=fresh, input=stdin, capture_output=True, text=True, timeout=300,
    )
    assert translated.returncode == 0, translated.stderr
    assert translated.stdout.splitlines() == expected
    assert snapshot(tmp_path) == before and not corpus.exists()
