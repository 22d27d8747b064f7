"""``evaluate_run``: translate a run's held-out split, score it, write RUN/eval/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sacrebleu

from catsmt.data.errors import DataError
from catsmt.decoding.config import DecodeConfig
from catsmt.decoding.text import translate_lines
from catsmt.evaluation.run_eval import evaluate_run, summary_text
from catsmt.run.checkpoint import CheckpointError
from catsmt.run.inference import load_inference_model

from ..run.test_inference import BRIEF, CONVERGED, trained_run

ISSUE_KEYS = {"split", "beam", "signature", "langs", "average"}


@pytest.fixture(scope="module")
def brief_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained_run(tmp_path_factory, "brief", BRIEF)


def test_json_and_hypotheses_files(brief_run: Path) -> None:
    result = evaluate_run(brief_run, "test", DecodeConfig(beam=2), max_sentences=10)

    written = json.loads((brief_run / "eval" / "test.json").read_text())
    assert written == result
    assert set(result) == ISSUE_KEYS | {"checkpoint", "step", "decode", "speed"}
    assert result["split"] == "test" and result["beam"] == 2 and result["step"] == 90
    assert result["checkpoint"].endswith("checkpoints/best.pt")
    assert set(result["signature"]) == {"bleu", "chrf"}
    assert set(result["langs"]) == {"syna", "synb"}
    for scores in result["langs"].values():
        assert set(scores) == {"bleu", "chrf", "n", "group"} and scores["n"] == 10
    assert set(result["average"]) == {"all", "low"}  # both languages are below low_threshold
    assert set(result["average"]["all"]) == {"bleu", "chrf"}
    speed = result["speed"]
    assert speed["sentences"] == 20 and speed["target_tokens"] >= 20  # each counts its </s>
    assert speed["target_tokens_per_s"] > 0

    loaded = load_inference_model(brief_run)
    for lang in ("syna", "synb"):
        hyps = (brief_run / "eval" / "hyps" / f"test.{lang}.hyp").read_text().split("\n")
        assert hyps[-1] == "" and len(hyps) == 11  # one line per sentence, newline-terminated
        src, refs = loaded.data.raw("test", lang)
        assert hyps[:10] == translate_lines(loaded, src[:10], lang, DecodeConfig(beam=2))
        bleu = sacrebleu.corpus_bleu(hyps[:10], [refs[:10]]).score
        assert result["langs"][lang]["bleu"] == pytest.approx(bleu)
    assert "BLEU on test" in summary_text(result, "brief")


def test_out_langs_and_averaging(brief_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "scores" / "avg.json"
    result = evaluate_run(
        brief_run, "valid", DecodeConfig(beam=1), average_last=3, out=out, langs=["synb"],
        max_sentences=5,
    )
    assert json.loads(out.read_text()) == result
    assert list(result["langs"]) == ["synb"] and result["beam"] == 1
    assert result["checkpoint"].startswith("average of 3") and result["step"] == 90
    hyps = (tmp_path / "scores" / "hyps" / "valid.synb.hyp").read_text().splitlines()
    assert len(hyps) == 5
    assert not (brief_run / "eval" / "valid.json").exists()


def test_decode_defaults_to_the_run_config(brief_run: Path, tmp_path: Path) -> None:
    result = evaluate_run(brief_run, out=tmp_path / "t.json", max_sentences=2, langs=["syna"])
    assert result["beam"] == 5 and result["decode"] == {
        "beam": 5, "lenpen": 1.0, "max_len_a": 1.5, "max_len_b": 10, "batch_tokens": 4096
    }


def test_bad_requests_name_the_problem(brief_run: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="unknown language 'xyz'; tasks: syna, synb"):
        evaluate_run(brief_run, langs=["xyz"], out=tmp_path / "a.json")
    for split in ("train", "train2"):  # scores on the training data would mean nothing
        with pytest.raises(ValueError, match=f"split must be one of valid, test \\(held-out data\\), got '{split}'"):
            evaluate_run(brief_run, split=split, out=tmp_path / "b.json")
    assert not (tmp_path / "b.json").exists() and not (tmp_path / "hyps").exists()
    with pytest.raises(CheckpointError, match="no such run folder"):
        evaluate_run(tmp_path / "missing")
    with pytest.raises(ValueError, match="evaluate takes a run folder"):
        evaluate_run(brief_run / "checkpoints" / "best.pt")
    with pytest.raises(CheckpointError, match="keep_last=4"):
        evaluate_run(brief_run, average_last=4)


@pytest.fixture(scope="module")
def converged_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained_run(tmp_path_factory, "converged", CONVERGED)


def test_training_reaches_near_zero_validation_loss(converged_run: Path) -> None:
    """The training loop's learning test (issue 4): a tiny model on synthetic data ends with a
    per-language validation NLL near zero (about 30 s of training, shared with the test below)."""
    summary = json.loads((converged_run / "summary.json").read_text())
    assert summary["valid"], summary
    for lang, nll in summary["valid"].items():
        assert nll < 0.25, (lang, nll)  # from ~5.3 nats at initialisation


def test_trained_model_translates_held_out_set(converged_run: Path) -> None:
    """The whole pipeline: synthetic data -> train -> beam-5 translation -> BLEU > 90.

    About 30 s on 2 busy CPU cores (training 240 updates), so it runs by default.
    """
    result = evaluate_run(converged_run)  # test split, the run's beam 5, best checkpoint
    assert result["beam"] == 5 and result["langs"]["syna"]["n"] == 40
    for lang, scores in result["langs"].items():
        assert scores["bleu"] > 90, (lang, scores)
