"""The CTranslate2 export: the same greedy output as catsmt on a small trained model.

Skipped, with the reason, when ``ctranslate2`` is not installed (``pip install 'catsmt[ct2]'``;
it is part of the ``dev`` extra, so CI runs these).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from catsmt.decoding.translator import Translator, load_model
from catsmt.run.export import export_model
from catsmt.run.inference import load_translation_model
from catsmt.run.model_folder import META_FILE, VOCAB_FILE, ModelFolderError

from ..run.test_inference import BRIEF, trained_run
from ..run.test_model_folder import held_out_sources, snapshot


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained_run(tmp_path_factory, "brief", BRIEF)


@pytest.fixture(scope="module")
def ct2_folder(run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("ctranslate2", reason="ctranslate2 is not installed (pip install 'catsmt[ct2]')")
    out = tmp_path_factory.mktemp("ct2") / "model"
    export_model(run, out, format="ct2")
    return out


def test_ct2_folder_layout(ct2_folder: Path) -> None:
    names = sorted(p.name for p in ct2_folder.iterdir())
    assert names == sorted([META_FILE, VOCAB_FILE, "model.bin", "config.json", "shared_vocabulary.json"])
    meta = json.loads((ct2_folder / META_FILE).read_text())
    assert meta["weights"]["format"] == "ctranslate2" and meta["weights"]["file"] == "model.bin"
    config = json.loads((ct2_folder / "config.json").read_text())
    assert config["decoder_start_token"] is None and config["layer_norm_epsilon"] == 1e-5


def test_ct2_greedy_output_is_catsmts(run: Path, ct2_folder: Path) -> None:
    """Every held-out sentence of both tasks, including ones that stop at the length limit."""
    reference = load_model(run)
    assert isinstance(reference, Translator)
    before = snapshot(ct2_folder)
    engine = load_model(ct2_folder, threads=1)
    assert type(engine).__name__ == "CT2Translator" and engine.pairs == reference.pairs
    for lang, lines in held_out_sources(run, 40).items():
        lines = [*lines, ""]
        ours = reference.translate(lines, src_lang=lang, tgt_lang="eng", beam=1)
        theirs = engine.translate(lines, src_lang=lang, tgt_lang="eng", beam=1)
        assert theirs == ours, lang
    assert snapshot(ct2_folder) == before
    with pytest.raises(TypeError, match="not a str"):
        engine.translate("x", src_lang="syna", tgt_lang="eng")


def test_catsmt_translate_runs_a_ct2_folder(
    run: Path, ct2_folder: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    from catsmt.cli import main

    lines = held_out_sources(run, 5)["synb"]
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO("".join(f"{x}\n" for x in lines).encode()), encoding="utf-8"))
    capsys.readouterr()
    args = ["translate", str(ct2_folder), "--src-lang", "synb", "--tgt-lang", "eng", "--beam", "1", "--threads", "1", "--device", "cpu"]
    assert main(args) == 0
    expected = load_model(run).translate(lines, src_lang="synb", tgt_lang="eng", beam=1)
    assert capsys.readouterr().out.splitlines() == expected


def test_a_ct2_folder_is_not_read_as_safetensors(ct2_folder: Path) -> None:
    with pytest.raises(ModelFolderError, match="holds ctranslate2 weights, not safetensors"):
        load_translation_model(ct2_folder)


def test_without_ctranslate2_the_export_says_how_to_install_it(
    run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ctranslate2", None)  # import ctranslate2 -> ImportError
    with pytest.raises(ModelFolderError, match=r"pip install 'catsmt\[ct2\]'"):
        export_model(run, tmp_path / "out", format="ct2")
    assert list(tmp_path.iterdir()) == []
