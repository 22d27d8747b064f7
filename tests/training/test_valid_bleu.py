"""Validation BLEU and chrF during training, and the best checkpoint chosen by them."""

from __future__ import annotations

from pathlib import Path

import pytest

from catsmt.config import ConfigError, load_config
from catsmt.decoding.config import DecodeConfig
from catsmt.decoding.text import translate_lines
from catsmt.evaluation.scores import score_language
from catsmt.run.checkpoint import load_checkpoint
from catsmt.run.inference import load_inference_model
from catsmt.run.metrics import read_metrics
from catsmt.training.trainer import train

from .conftest import tiny_config

SETTINGS = ("train.max_steps=30", "train.valid_every=10", "train.valid_bleu_every=10",
            "train.valid_bleu_sentences=12", "model.dim=32", "model.ffn_dim=64", "train.warmup_steps=5")


def test_bleu_is_logged_per_language_and_chooses_the_best_checkpoint(synthetic_dir: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    result = train(tiny_config(synthetic_dir, run, *SETTINGS, "train.best_metric=bleu"))
    valid = [e for e in read_metrics(run / "metrics.jsonl") if e["event"] == "valid" and e["lang"] != "avg"]
    assert {e["step"] for e in valid} == {10, 20, 30}
    assert all("bleu" in e and "chrf" in e and e["sentences"] == 12 for e in valid)
    mean = {s: sum(e["bleu"] for e in valid if e["step"] == s) / 4 for s in (10, 20, 30)}
    best = max(mean, key=lambda s: (mean[s], -s))  # the first of equal scores
    assert result.best_step == best and load_checkpoint(run / "checkpoints" / "best.pt")["step"] == best
    # The logged BLEU is sacreBLEU's on the first 12 validation sentences of the logged step's model.
    loaded = load_inference_model(run, checkpoint="last")
    srcs, refs = loaded.data.raw("valid", "syna")
    hyps = translate_lines(loaded, srcs[:12], "syna", DecodeConfig(beam=1))
    logged = next(e for e in valid if e["step"] == 30 and e["lang"] == "syna")
    assert logged["bleu"] == pytest.approx(score_language(hyps, refs[:12])["bleu"])


def test_loss_metrics_do_not_decode(synthetic_dir: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    train(tiny_config(synthetic_dir, run, "train.max_steps=10", "train.valid_every=10", "model.dim=32", "model.ffn_dim=64"))
    valid = [e for e in read_metrics(run / "metrics.jsonl") if e["event"] == "valid" and e["lang"] != "avg"]
    assert valid and not any("bleu" in e for e in valid)


@pytest.mark.parametrize(("overrides", "message"), [
    (["train.valid_bleu_every=15"], "valid_bleu_every must be 0 or a multiple of valid_every (10), got 15"),
    (["train.best_metric=chrf"], "best_metric=chrf scores every validation: set valid_bleu_every=10"),
    (["train.valid_bleu_every=10", "train.valid_bleu_sentences=0"], "valid_bleu_sentences must be >= 1, got 0"),
])
def test_inconsistent_settings_are_refused_at_load(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_config(None, ["train.valid_every=10", *overrides])


def test_the_bleu_curve_is_in_tensorboard(synthetic_dir: Path, tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = tmp_path / "run"
    train(tiny_config(synthetic_dir, run, *SETTINGS, "train.tensorboard=true"))
    events = EventAccumulator(str(run / "tb"))
    events.Reload()
    curve = events.Scalars("valid/syna/bleu")
    assert [e.step for e in curve] == [10, 20, 30]
    logged = [e for e in read_metrics(run / "metrics.jsonl") if e["event"] == "valid" and e["lang"] == "syna"]
    assert [e.value for e in curve] == pytest.approx([e["bleu"] for e in logged])
    assert [e.step for e in events.Scalars("valid/syna/chrf")] == [10, 20, 30]
