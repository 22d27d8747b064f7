"""Loading a trained run for translation: checkpoint choice, averaging, text in / text out.

The trained runs here are shared with ``tests/evaluation/test_run_eval.py`` and
``tests/test_cli.py`` through :func:`trained_run`, which trains a run once per test session
(kept under pytest's session temporary folder).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from catsmt.config import Config, load_config
from catsmt.data.errors import DataError
from catsmt.data.recipes import build
from catsmt.decoding.config import DecodeConfig
from catsmt.decoding.text import find_task, translate_lines, translate_stream, with_overrides
from catsmt.run.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from catsmt.run.inference import (
    average_checkpoints,
    last_step_checkpoints,
    load_for_inference,
    load_inference_model,
    read_config,
    resolve_checkpoint,
)
from catsmt.training.trainer import train

#: A brief run (about 10 s): 90 small updates, BLEU 10-25 -- enough for outputs that differ
#: from sentence to sentence; three step checkpoints kept for averaging.
BRIEF = (
    "data.direction=m2o", "data.max_tokens=768", "train.lr=0.01", "train.max_steps=90",
    "train.valid_every=30", "train.keep_last=3",
)
#: A run that translates the synthetic held-out sets with BLEU > 90 (240 updates of 2048
#: tokens, 95-100 BLEU over seeds 1-4; the m2o direction, syn* -> eng, is learnt faster than
#: o2m on this corpus).
CONVERGED = (
    "data.direction=m2o", "data.max_tokens=2048", "train.max_steps=240", "train.valid_every=80",
)


def synthetic_corpus(base: Path) -> Path:
    """Two synthetic languages of 800 training pairs, 40 valid and 40 test pairs each."""
    out = base / "synthetic-800x2"
    if not (out / "stats.json").exists():
        build("synthetic", out, sizes=[800, 800], valid=40, test=40)
    return out


def run_config(data_dir: Path, run_dir: Path, *overrides: str) -> Config:
    """A one-layer 64-dim Transformer, one CPU thread, no dropout or label smoothing."""
    return load_config(
        None,
        [
            f"data.dir={data_dir}", "data.vocab_size=200", "data.langs_per_batch=2",
            "model.preset=tiny", "model.layers=1", "model.dim=64", "model.ffn_dim=128",
            "model.dropout=0.0", f"train.run_dir={run_dir}", "train.device=cpu",
            "train.threads=1", "train.lr=0.005", "train.warmup_steps=30",
            "train.label_smoothing=0.0", "train.log_every=10", "train.progress=false",
            "train.tensorboard=false", *overrides,
        ],
    )


def trained_run(factory: pytest.TempPathFactory, name: str, overrides: tuple[str, ...]) -> Path:
    """The run folder ``name`` trained with ``overrides``, trained once per test session."""
    torch.set_num_threads(1)
    base = factory.getbasetemp() / "catsmt-trained"
    run = base / name
    if not (run / "summary.json").exists():
        train(run_config(synthetic_corpus(base), run, *overrides))
    return run


@pytest.fixture(scope="module")
def brief_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained_run(tmp_path_factory, "brief", BRIEF)


def test_average_is_the_mean_of_the_step_checkpoints(brief_run: Path) -> None:
    paths = last_step_checkpoints(brief_run / "checkpoints", 3)
    assert [p.name for p in paths] == ["step-0000030.pt", "step-0000060.pt", "step-0000090.pt"]
    states = [load_checkpoint(p)["model"] for p in paths]
    averaged = average_checkpoints(paths)
    assert averaged.keys() == states[0].keys()
    for name, value in averaged.items():
        expected = torch.stack([s[name] for s in states]).mean(dim=0)
        assert value.dtype == states[0][name].dtype
        torch.testing.assert_close(value, expected, rtol=1e-6, atol=1e-7, msg=name)
    assert not torch.equal(averaged["embed.weight"], states[-1]["embed.weight"])


def test_loaded_averaged_model_holds_the_average(brief_run: Path) -> None:
    loaded = load_inference_model(brief_run, "cpu", average_last=2)
    assert [p.name for p in loaded.sources] == ["step-0000060.pt", "step-0000090.pt"]
    assert loaded.step == 90 and loaded.description.startswith("average of 2")
    expected = average_checkpoints(loaded.sources)
    for name, value in loaded.model.state_dict().items():
        torch.testing.assert_close(value, expected[name], msg=name)


def test_averaging_more_checkpoints_than_kept_is_refused(brief_run: Path) -> None:
    with pytest.raises(CheckpointError, match=r"has 3 step checkpoints.*keep_last=4"):
        load_for_inference(brief_run, "cpu", average_last=4)


def test_average_of_one_checkpoint_is_that_checkpoint(brief_run: Path) -> None:
    model, _, _ = load_for_inference(brief_run, "cpu", average_last=1)
    last = load_checkpoint(brief_run / "checkpoints" / "step-0000090.pt")["model"]
    for name, value in model.state_dict().items():
        assert torch.equal(value, last[name]), name


@pytest.mark.parametrize("choice", ["best", "last", "step-0000060.pt"])
def test_run_folder_and_checkpoint_choice(brief_run: Path, choice: str) -> None:
    model, cfg, data = load_for_inference(brief_run, "cpu", checkpoint=choice)
    path = resolve_checkpoint(brief_run, choice)
    state = load_checkpoint(path)
    assert cfg.to_dict() == state["config"]
    assert not model.training
    for name, value in model.state_dict().items():
        assert torch.equal(value, state["model"][name]), name
    assert data.langs == ["syna", "synb"] and data.vocab.size == model.vocab_size


def test_checkpoint_file_as_path(brief_run: Path) -> None:
    file = brief_run / "checkpoints" / "last.pt"
    loaded = load_inference_model(file)
    assert loaded.sources == [file] and loaded.step == 90
    assert read_config(file).to_dict() == loaded.cfg.to_dict()
    with pytest.raises(ValueError, match="is a checkpoint file"):
        load_for_inference(file, "cpu", checkpoint="last")


def test_missing_things_are_named(brief_run: Path, tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no such run folder or checkpoint file"):
        load_for_inference(tmp_path / "nowhere", "cpu")
    with pytest.raises(CheckpointError, match=r"no checkpoint .*step-9\.pt; checkpoints in .*best\.pt"):
        load_for_inference(brief_run, "cpu", checkpoint="step-9.pt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="is it a catsmt run folder"):
        load_for_inference(tmp_path / "empty", "cpu")
    with pytest.raises(ValueError, match="cannot be combined"):
        load_for_inference(brief_run, "cpu", average_last=2, checkpoint="last")


def test_missing_corpus_is_named(brief_run: Path, tmp_path: Path) -> None:
    state = load_checkpoint(brief_run / "checkpoints" / "best.pt")
    state["config"]["data"]["dir"] = "data/moved-away"
    save_checkpoint(state, tmp_path / "moved.pt")
    with pytest.raises(DataError, match=r"data/moved-away \(data.dir in its config\), is not there"):
        load_for_inference(tmp_path / "moved.pt", "cpu")


def test_find_task_lists_the_valid_pairs(brief_run: Path) -> None:
    _, _, data = load_for_inference(brief_run, "cpu")
    assert find_task(data, "synb", "eng") == "synb"
    with pytest.raises(DataError, match="does not translate eng-synb; valid pairs: syna-eng, synb-eng"):
        find_task(data, "eng", "synb")


def test_translate_lines_keeps_order_and_blank_lines(brief_run: Path) -> None:
    loaded = load_inference_model(brief_run)
    decode = DecodeConfig(beam=2, batch_tokens=40)  # several length-sorted batches
    src, _ = loaded.data.raw("test", "syna")
    lines = [src[0], "", src[1], "   ", src[2], src[3]]
    out = translate_lines(loaded, lines, "syna", decode)
    assert len(out) == len(lines) and out[1] == "" and out[3] == ""
    assert len({out[0], out[2], out[4], out[5]}) > 1, "outputs do not tell sentences apart"
    alone = [translate_lines(loaded, [line], "syna", decode)[0] for line in lines]
    assert out == alone
    assert list(translate_stream(loaded, iter(lines), "syna", decode, chunk=4)) == out
    with pytest.raises(TypeError, match="not a str"):
        translate_lines(loaded, src[0], "syna", decode)  # a str, not a list: refused, not spelt out


def test_with_overrides_validates() -> None:
    base = DecodeConfig(beam=5, lenpen=0.6)
    assert with_overrides(base, beam=1) == DecodeConfig(beam=1, lenpen=0.6)
    assert base.beam == 5
    with pytest.raises(ValueError, match="beam must be >= 1"):
        with_overrides(base, beam=0)
