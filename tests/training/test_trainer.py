"""The training loop end to end on a tiny synthetic corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from catsmt.run.checkpoint import load_checkpoint
from catsmt.run.folder import RunDirError
from catsmt.run.metrics import read_metrics
from catsmt.training.trainer import train

from .conftest import tiny_config


def params_of(run: Path, name: str = "last.pt") -> dict[str, torch.Tensor]:
    return load_checkpoint(run / "checkpoints" / name)["model"]


@pytest.mark.parametrize("method", ["temperature", "cats"])
def test_resume_is_bitwise_exact(synthetic_dir: Path, tmp_path: Path, method: str) -> None:
    extra = ["weighting.method=" + method]
    if method == "cats":
        extra.append("weighting.update_every=[[0,3]]")
    straight = tiny_config(synthetic_dir, tmp_path / "straight", "train.max_steps=20", *extra)
    train(straight)
    half = tiny_config(synthetic_dir, tmp_path / "half", "train.max_steps=10", *extra)
    train(half)
    resumed = tiny_config(synthetic_dir, tmp_path / "half", "train.max_steps=20", *extra)
    train(resumed, resume=True)
    a, b = params_of(tmp_path / "straight"), params_of(tmp_path / "half")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    wa = load_checkpoint(tmp_path / "straight" / "checkpoints" / "last.pt")["weighting"]
    wb = load_checkpoint(tmp_path / "half" / "checkpoints" / "last.pt")["weighting"]
    for k in wa:
        if isinstance(wa[k], torch.Tensor):
            assert torch.equal(wa[k], wb[k]), k


def test_metrics_have_per_language_validation(synthetic_dir: Path, tmp_path: Path) -> None:
    cfg = tiny_config(synthetic_dir, tmp_path / "run", "train.max_steps=10", "train.tensorboard=true", "weighting.method=cats")
    train(cfg)
    events = list(read_metrics(tmp_path / "run" / "metrics.jsonl"))
    valid = {e["lang"] for e in events if e["event"] == "valid"}
    assert valid == {"syna", "synb", "sync", "synd", "avg"}
    train_all = [e for e in events if e["event"] == "train" and e["lang"] == "all"]
    assert train_all and "alpha/syna" in train_all[-1]["weights"] and "lr" in train_all[-1]
    assert list((tmp_path / "run" / "tb").iterdir()), "no TensorBoard events"
    assert (tmp_path / "run" / "config.yaml").exists()
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["steps"] == 10


def test_existing_run_folder_is_refused(synthetic_dir: Path, tmp_path: Path) -> None:
    cfg = tiny_config(synthetic_dir, tmp_path / "run", "train.max_steps=2", "train.valid_every=2")
    train(cfg)
    before = (tmp_path / "run" / "checkpoints" / "last.pt").read_bytes()
    with pytest.raises(RunDirError, match="add --resume"):
        train(cfg)
    assert (tmp_path / "run" / "checkpoints" / "last.pt").read_bytes() == before


def test_best_checkpoint_follows_mean_validation_loss(synthetic_dir: Path, tmp_path: Path) -> None:
    cfg = tiny_config(synthetic_dir, tmp_path / "run", "train.max_steps=30")
    result = train(cfg)
    events = [e for e in read_metrics(tmp_path / "run" / "metrics.jsonl") if e["event"] == "valid" and e["lang"] == "avg"]
    best = min(events, key=lambda e: e["score"])
    assert result.best_step == best["step"]
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "best.pt")["step"] == best["step"]


def test_non_finite_losses_are_skipped_then_stop_the_run(synthetic_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import catsmt.training.step as step_mod

    real = step_mod.label_smoothed_loss

    def poisoned(logits, target, pad_id, eps):  # type: ignore[no-untyped-def]
        loss, nll, n = real(logits, target, pad_id, eps)
        return loss * float("nan"), nll, n

    monkeypatch.setattr(step_mod, "label_smoothed_loss", poisoned)
    cfg = tiny_config(synthetic_dir, tmp_path / "run", "train.max_steps=50", "train.max_bad_steps=3")
    before = None
    result = train(cfg)
    assert result.stopped == "non_finite" and result.steps == 3
    events = [e for e in read_metrics(tmp_path / "run" / "metrics.jsonl") if e["event"] == "non_finite"]
    assert len(events) == 3
    ck = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert ck["train_state"]["bad_steps_total"] == 3
    del before


def test_training_reduces_validation_loss_quickly(synthetic_dir: Path, tmp_path: Path) -> None:
    """A learning test that can fail: 60 updates must cut the mean valid NLL by 40%."""
    cfg = tiny_config(
        synthetic_dir, tmp_path / "run", "train.max_steps=60", "train.valid_every=60",
        "model.dropout=0", "train.label_smoothing=0", "train.lr=0.006",
    )
    result = train(cfg)
    uniform = torch.log(torch.tensor(200.0)).item()  # NLL of guessing over the 200-piece vocabulary
    assert result.best_score < 0.6 * uniform, result.valid


@pytest.mark.slow
def test_tiny_model_reaches_near_zero_loss_on_synthetic(tmp_path: Path) -> None:
    """The high-resource synthetic languages are learnt to near-zero NLL (~100 s on 2 cores)."""
    from catsmt.data.recipes import build

    build("synthetic", tmp_path / "data", sizes=[600, 600, 120, 120], valid=40, test=40)
    cfg = tiny_config(
        tmp_path / "data", tmp_path / "run", "train.max_steps=400", "train.valid_every=100",
        "model.layers=2", "model.dim=128", "model.ffn_dim=256", "model.dropout=0",
        "train.label_smoothing=0", "data.max_tokens=1024", "train.threads=2",
    )
    result = train(cfg)
    assert result.valid["syna"] < 0.3 and result.valid["synb"] < 0.3, result.valid


def test_fused_loss_trains_like_the_loss_from_logits(synthetic_dir: Path, tmp_path: Path) -> None:
    """``train.loss_chunk`` changes how the loss is computed, not what: both paths of the step
    (CATS meta updates every 3rd update, weighted losses between) log the same losses and end
    at the same parameters, to rounding."""
    common = ("train.max_steps=9", "train.log_every=1", "model.dropout=0",
              "weighting.method=cats", "weighting.update_every=[[0,3]]")
    train(tiny_config(synthetic_dir, tmp_path / "logits", *common))
    train(tiny_config(synthetic_dir, tmp_path / "fused", *common, "train.loss_chunk=7"))

    def losses(run: Path) -> list[float]:
        return [e["loss"] for e in read_metrics(run / "metrics.jsonl") if e["event"] == "train"]

    assert len(losses(tmp_path / "fused")) >= 9
    assert losses(tmp_path / "fused") == pytest.approx(losses(tmp_path / "logits"), rel=1e-4)
    a, b = params_of(tmp_path / "logits"), params_of(tmp_path / "fused")
    for k in a:
        if not k.endswith("k_proj.bias"):  # its gradient is 0 up to rounding, which Adam scales up
            torch.testing.assert_close(a[k], b[k], rtol=1e-3, atol=1e-4)


def test_prefetching_changes_nothing_even_when_the_distribution_moves(synthetic_dir: Path, tmp_path: Path) -> None:
    """MultiDDS sets a new sampling distribution at its updates, so batches drawn ahead are
    redrawn; the run ends bit for bit where a run without prefetching ends."""
    common = ("train.max_steps=8", "weighting.method=multidds", "weighting.update_every=2")
    train(tiny_config(synthetic_dir, tmp_path / "ahead", *common, "data.prefetch=true"))
    train(tiny_config(synthetic_dir, tmp_path / "plain", *common, "data.prefetch=false"))
    a, b = params_of(tmp_path / "ahead"), params_of(tmp_path / "plain")
    for k in a:
        assert torch.equal(a[k], b[k]), k
    sa = load_checkpoint(tmp_path / "ahead" / "checkpoints" / "last.pt")["sampler"]
    sb = load_checkpoint(tmp_path / "plain" / "checkpoints" / "last.pt")["sampler"]
    assert sa == sb
    logged = [e["sampling"] for e in read_metrics(tmp_path / "ahead" / "metrics.jsonl") if "sampling" in e]
    assert logged[0] != logged[-1]  # the distribution did move
