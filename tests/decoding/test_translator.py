"""``catsmt.load_model(path).translate(...)``: the documented Python API."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import catsmt
from catsmt.data.errors import DataError
from catsmt.decoding import translator
from catsmt.decoding.config import DecodeConfig
from catsmt.decoding.text import translate_lines
from catsmt.decoding.translator import Translator, load_model
from catsmt.run.inference import load_inference_model

from ..run.test_inference import BRIEF, trained_run
from ..run.test_model_folder import held_out_sources


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained_run(tmp_path_factory, "brief", BRIEF)


@pytest.fixture(scope="module")
def model(run: Path) -> Translator:
    loaded = load_model(run)
    assert isinstance(loaded, Translator)
    return loaded


def test_catsmt_load_model_is_the_translator_loader_and_import_catsmt_stays_light() -> None:
    assert catsmt.load_model is translator.load_model
    probe = "import sys, catsmt; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr


def test_translate_is_translate_lines_list_in_list_out(run: Path, model: Translator) -> None:
    lines = held_out_sources(run, 6)["syna"]
    lines = [lines[0], "", *lines[1:]]
    loaded = load_inference_model(run)
    for beam in (1, 2):
        got = model.translate(lines, src_lang="syna", tgt_lang="eng", beam=beam)
        assert isinstance(got, list) and len(got) == len(lines) and got[1] == ""
        assert got == translate_lines(loaded, lines, "syna", DecodeConfig(beam=beam))
    default = model.translate(lines, src_lang="syna", tgt_lang="eng")  # the run's decode.beam
    assert default == model.translate(lines, src_lang="syna", tgt_lang="eng", beam=model.decode.beam)
    assert model.translate(iter(lines), src_lang="syna", tgt_lang="eng", beam=1) == model.translate(
        lines, src_lang="syna", tgt_lang="eng", beam=1
    )  # any iterable of str
    assert model.translate([], src_lang="syna", tgt_lang="eng") == []


def test_a_str_is_refused_with_a_clear_type_error(model: Translator) -> None:
    with pytest.raises(TypeError, match=r"takes a list of sentences, not a str: wrap one sentence as \[sentence\]"):
        model.translate("lebea zosaa", src_lang="syna", tgt_lang="eng")
    with pytest.raises(TypeError, match="sentence 1 is a int, not a str"):
        model.translate(["lebea", 3], src_lang="syna", tgt_lang="eng")  # type: ignore[list-item]
    with pytest.raises(TypeError, match="not a str"):
        model.translate_stream("lebea zosaa", src_lang="syna", tgt_lang="eng")


def test_pairs_and_an_unknown_pair(model: Translator) -> None:
    assert model.pairs == [("syna", "eng"), ("synb", "eng")]
    with pytest.raises(DataError, match="does not translate eng-syna; valid pairs: syna-eng, synb-eng"):
        model.translate(["x"], src_lang="eng", tgt_lang="syna")
    with pytest.raises(ValueError, match="beam must be >= 1"):
        model.translate(["x"], src_lang="syna", tgt_lang="eng", beam=0)
    assert "syna-eng, synb-eng; step 90" in repr(model)


def test_stream_checks_the_pair_before_reading_a_line(run: Path, model: Translator) -> None:
    def unread() -> object:
        raise AssertionError("read a line")
        yield  # pragma: no cover

    with pytest.raises(DataError, match="does not translate"):
        model.translate_stream(unread(), src_lang="eng", tgt_lang="syna")  # type: ignore[arg-type]
    lines = held_out_sources(run, 5)["synb"]
    streamed = list(model.translate_stream(iter(lines), src_lang="synb", tgt_lang="eng", beam=1, chunk=2))
    assert streamed == model.translate(lines, src_lang="synb", tgt_lang="eng", beam=1)
