"""A model folder that stands alone: export, read back, and translate with no corpus present.

The trained run is the session's ``brief`` run (:func:`~tests.run.test_inference.trained_run`).
Tests that delete a corpus work on a private copy: :func:`private_checkpoint` copies the
corpus and saves the run's best checkpoint with ``data.dir`` pointing at the copy.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import torch

from catsmt.config_fields import to_dict
from catsmt.decoding.translator import Translator, load_model
from catsmt.run.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from catsmt.run.export import export_model
from catsmt.run.inference import average_checkpoints, load_inference_model, load_translation_model
from catsmt.run.model_folder import (
    META_FILE,
    RUN_LANGUAGES_FILE,
    VOCAB_FILE,
    WEIGHTS_FILE,
    Languages,
    ModelFolderError,
    is_model_folder,
    read_model_info,
    save_run_languages,
)

from .test_inference import BRIEF, trained_run


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained_run(tmp_path_factory, "brief", BRIEF)


def private_checkpoint(run: Path, base: Path) -> tuple[Path, Path]:
    """``(RUN2, corpus)``: a run folder under ``base`` whose ``checkpoints/best.pt`` is the
    brief run's best with ``data.dir`` set to a private copy of its corpus (safe to delete)."""
    state = load_checkpoint(run / "checkpoints" / "best.pt")
    corpus = base / "corpus"
    shutil.copytree(state["config"]["data"]["dir"], corpus)
    state["config"]["data"]["dir"] = str(corpus)
    state.pop("format_version", None)
    run2 = base / "run"
    (run2 / "checkpoints").mkdir(parents=True)
    save_checkpoint(state, run2 / "checkpoints" / "best.pt")
    return run2, corpus


def snapshot(*roots: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under ``roots`` with its size and modification time."""
    seen: dict[str, tuple[int, int]] = {}
    for root in roots:
        for here, dirs, files in os.walk(root):
            for name in dirs + files:
                path = Path(here) / name
                st = path.lstat()
                seen[str(path)] = (st.st_size, st.st_mtime_ns)
    return seen


def held_out_sources(run: Path, n: int = 20) -> dict[str, list[str]]:
    """The first ``n`` test sources of each task of ``run``."""
    data = load_inference_model(run).data
    return {lang: data.raw("test", lang)[0][:n] for lang in data.langs}


@pytest.fixture(scope="module")
def sources(run: Path) -> dict[str, list[str]]:
    return held_out_sources(run)


def translate_all(model: Translator, sources: dict[str, list[str]], beam: int) -> dict[str, list[str]]:
    return {
        lang: model.translate(lines, src_lang=lang, tgt_lang="eng", beam=beam) for lang, lines in sources.items()
    }


def test_export_writes_weights_vocabulary_and_a_description(run: Path, tmp_path: Path) -> None:
    out = tmp_path / "model"
    info = export_model(run, out)
    assert sorted(p.name for p in out.iterdir()) == [META_FILE, WEIGHTS_FILE, VOCAB_FILE]
    assert is_model_folder(out) and not is_model_folder(run)
    meta = json.loads((out / META_FILE).read_text())
    state = load_checkpoint(run / "checkpoints" / "best.pt")
    assert meta["format"] == "catsmt-model" and meta["format_version"] == 1
    assert meta["model"] == state["config"]["model"] == to_dict(info.model)
    assert meta["decode"] == state["config"]["decode"]
    assert meta["step"] == state["step"] == 90
    best = (run / "checkpoints" / "best.pt").resolve()
    assert best.name == "step-0000090.pt" and meta["source"]["checkpoints"] == [str(best)]
    assert meta["source"]["run"] == str(run.resolve()) and meta["source"]["average_last"] == 0
    tag = meta["languages"]["tasks"]["syna"]["target_tag_id"]
    assert meta["languages"] == {
        "source_tag": True,
        "tasks": {
            lang: {"src": lang, "tgt": "eng", "target_tag": "<2eng>", "target_tag_id": tag} for lang in ("syna", "synb")
        },
    }
    vocab = meta["vocab"]
    assert (vocab["pad_id"], vocab["unk_id"], vocab["bos_id"], vocab["eos_id"]) == (0, 1, 2, 3)
    assert vocab["size"] == state["model"]["embed.weight"].shape[0]
    assert meta["weights"]["format"] == "safetensors"
    assert meta["weights"]["tied"] == {"tgt_embed.weight": "embed.weight"}  # the shared matrix once
    assert not list(tmp_path.glob(".model.tmp-*"))


def test_folder_holds_exactly_the_checkpoint_weights(run: Path, tmp_path: Path) -> None:
    export_model(run, tmp_path / "model")
    loaded = load_translation_model(tmp_path / "model")
    expected = load_checkpoint(run / "checkpoints" / "best.pt")["model"]
    got = loaded.model.state_dict()
    assert got.keys() == expected.keys()
    for name, value in got.items():
        assert torch.equal(value, expected[name]), name
    assert loaded.model.embed.weight is loaded.model.tgt_embed.weight  # still tied after loading
    assert loaded.step == 90 and not loaded.model.training


def test_averaged_and_chosen_checkpoints_export(run: Path, tmp_path: Path) -> None:
    info = export_model(run, tmp_path / "avg", average_last=2)
    names = [Path(p).name for p in info.source["checkpoints"]]
    assert names == ["step-0000060.pt", "step-0000090.pt"] and info.source["average_last"] == 2
    expected = average_checkpoints([run / "checkpoints" / n for n in names])
    for name, value in load_translation_model(tmp_path / "avg").model.state_dict().items():
        torch.testing.assert_close(value, expected[name], rtol=0, atol=0, msg=name)
    assert export_model(run, tmp_path / "s60", checkpoint="step-0000060.pt").step == 60


def test_export_then_translate_without_the_corpus_gives_the_runs_output(
    run: Path, tmp_path: Path, sources: dict[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    run2, corpus = private_checkpoint(run, tmp_path / "work")
    from_run = load_model(run2)
    expected = {beam: translate_all(from_run, sources, beam) for beam in (1, 3)}
    export_model(run2, tmp_path / "work" / "out")
    fresh = tmp_path / "fresh" / "model"
    shutil.copytree(tmp_path / "work" / "out", fresh)
    shutil.rmtree(tmp_path / "work")  # the corpus, its cache, the run: all gone
    monkeypatch.chdir(tmp_path / "fresh")
    before = snapshot(tmp_path)
    model = load_model("model")
    for beam in (1, 3):
        assert translate_all(model, sources, beam) == expected[beam]
    assert snapshot(tmp_path) == before, "loading or translating wrote something"
    assert not corpus.exists()


def test_run_keeping_its_vocabulary_translates_without_the_corpus(
    run: Path, tmp_path: Path, sources: dict[str, list[str]]
) -> None:
    run2, corpus = private_checkpoint(run, tmp_path)
    expected = translate_all(load_model(run2), sources, beam=2)
    data = load_inference_model(run2).data
    save_run_languages(run2, Languages.of(data))  # what the trainer should write
    assert (run2 / VOCAB_FILE).is_file() and (run2 / RUN_LANGUAGES_FILE).is_file()
    shutil.rmtree(corpus)
    before = snapshot(tmp_path)
    for path in (run2, run2 / "checkpoints" / "best.pt"):  # the run folder, or its checkpoint file
        loaded = load_translation_model(path)
        assert loaded.languages.pairs == {"syna": ("syna", "eng"), "synb": ("synb", "eng")}
        assert translate_all(Translator(loaded), sources, beam=2) == expected
    assert snapshot(tmp_path) == before
    out = export_model(run2, tmp_path / "out")  # export needs no corpus either
    assert out.languages.vocab.digest == data.vocab.digest


def test_run_without_kept_vocabulary_reads_its_corpus_as_before(run: Path) -> None:
    loaded = load_translation_model(run)
    data = load_inference_model(run).data
    assert loaded.languages.pairs == Languages.of(data).pairs
    assert loaded.languages.vocab.digest == data.vocab.digest
    assert loaded.origin["run"] == str(run.resolve())


def test_output_folder_must_be_new_and_nothing_is_created_on_error(run: Path, tmp_path: Path) -> None:
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine\n")
    before = snapshot(tmp_path)
    with pytest.raises(ModelFolderError, match="exists and is not empty"):
        export_model(run, busy)
    (tmp_path / "file").write_text("x")
    before = snapshot(tmp_path)
    with pytest.raises(ModelFolderError, match="exists and is not a folder"):
        export_model(run, tmp_path / "file")
    with pytest.raises(CheckpointError, match="no checkpoint .*step-9.pt"):
        export_model(run, tmp_path / "new" / "out", checkpoint="step-9.pt")
    with pytest.raises(CheckpointError, match="no such run folder"):
        export_model(tmp_path / "nowhere", tmp_path / "new" / "out")
    with pytest.raises(ValueError, match="unknown export format 'onnx'; valid formats: safetensors, ct2"):
        export_model(run, tmp_path / "new" / "out", format="onnx")
    assert snapshot(tmp_path) == before
    (tmp_path / "empty").mkdir()
    export_model(run, tmp_path / "empty")  # an empty folder is fine
    assert is_model_folder(tmp_path / "empty")


def test_a_damaged_folder_is_named(run: Path, tmp_path: Path) -> None:
    good = tmp_path / "good"
    export_model(run, good)

    def broken(name: str) -> Path:
        path = tmp_path / name
        shutil.copytree(good, path)
        return path

    truncated = broken("truncated")
    data = (truncated / WEIGHTS_FILE).read_bytes()
    (truncated / WEIGHTS_FILE).write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFolderError, match="model.safetensors is corrupted or truncated"):
        load_translation_model(truncated)

    newer = broken("newer")
    meta = json.loads((newer / META_FILE).read_text())
    meta["format_version"] = 99
    (newer / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(ModelFolderError, match="format_version 99; this catsmt reads up to 1"):
        read_model_info(newer)

    other_vocab = broken("other-vocab")
    meta = json.loads((other_vocab / META_FILE).read_text())
    meta["vocab"]["sha256"] = "0" * 64
    (other_vocab / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(ModelFolderError, match="is not the vocabulary .* records"):
        load_model(other_vocab)

    no_vocab = broken("no-vocab")
    (no_vocab / VOCAB_FILE).unlink()
    with pytest.raises(ModelFolderError, match="sentencepiece.model' does not exist"):
        load_model(no_vocab)

    bad_json = broken("bad-json")
    (bad_json / META_FILE).write_text("{")
    with pytest.raises(ModelFolderError, match="catsmt.json is not valid JSON"):
        load_model(bad_json)

    with pytest.raises(ValueError, match="is a model folder, which holds one set of weights"):
        load_translation_model(good, checkpoint="last")


def test_kept_vocabulary_that_does_not_fit_is_refused(run: Path, tmp_path: Path) -> None:
    run2, _ = private_checkpoint(run, tmp_path)
    save_run_languages(run2, load_translation_model(run2).languages)
    raw = json.loads((run2 / RUN_LANGUAGES_FILE).read_text())
    raw["languages"]["tasks"]["syna"]["target_tag_id"] += 1
    (run2 / RUN_LANGUAGES_FILE).write_text(json.dumps(raw))
    with pytest.raises(ModelFolderError, match=r"languages.tasks.syna: target tag <2eng> has id \d+"):
        load_translation_model(run2)


def test_the_trainer_keeps_the_vocabulary_beside_the_run(tmp_path: Path) -> None:
    """A run trained now translates with its corpus deleted: the trainer writes
    RUN/sentencepiece.model and RUN/languages.json."""
    import shutil as _shutil

    import catsmt
    from catsmt.config import load_config
    from catsmt.data.recipes import build
    from catsmt.run.folder import RunFolder
    from catsmt.training.trainer import train

    data, run = tmp_path / "corpus", tmp_path / "run"
    build("synthetic", data, sizes=[200, 60], valid=10, test=10)
    train(load_config(None, [f"data.dir={data}", "data.vocab_size=120", "data.max_tokens=384", "model.preset=tiny",
                             "model.layers=1", "model.dim=32", "model.ffn_dim=64", f"train.run_dir={run}",
                             "train.device=cpu", "train.max_steps=2", "train.valid_every=2", "train.progress=false",
                             "train.tensorboard=false"]))
    folder = RunFolder(run)
    assert folder.vocab.is_file() and folder.languages.is_file()
    before = catsmt.load_model(run).translate(["a b c"], src_lang="eng", tgt_lang="syna")
    _shutil.rmtree(data)
    assert catsmt.load_model(run).translate(["a b c"], src_lang="eng", tgt_lang="syna") == before
