"""Every registered weighting method trains through the real loop and logs its weights."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from catsmt.run.metrics import read_metrics
from catsmt.training.trainer import train
from catsmt.weighting import WEIGHTINGS, Weighting

from .conftest import tiny_config

# Update intervals shortened so each method's learning step happens within 6 updates.
SHORT = {
    "cats": ["weighting.update_every=[[0,2]]"],
    "gradnorm": ["weighting.update_every=1"],
    "multidds": ["weighting.update_every=2"],
    "dro": ["weighting.update_every=2"],
}


@pytest.mark.parametrize("method", sorted(WEIGHTINGS))
def test_method_trains_and_logs(synthetic_dir: Path, tmp_path: Path, method: str) -> None:
    cfg = tiny_config(
        synthetic_dir, tmp_path / "run", "train.max_steps=6", "train.valid_every=6", "train.log_every=2",
        "model.dim=32", "model.ffn_dim=64", "data.max_tokens=384", f"weighting.method={method}", *SHORT.get(method, []),
    )
    result = train(cfg)
    assert result.steps == 6 and result.stopped == "max_steps"
    events = list(read_metrics(tmp_path / "run" / "metrics.jsonl"))
    logged = [e for e in events if e["event"] == "train" and e["lang"] == "all"]
    assert logged and all(math.isfinite(e["loss"]) for e in logged)
    probs = logged[-1]["sampling"]
    assert set(probs) == {"syna", "synb", "sync", "synd"} and abs(sum(probs.values()) - 1) < 1e-6
    if method in ("cats", "gradnorm"):
        assert logged[-1]["weights"], f"{method} logged no weights"
    if WEIGHTINGS[method].needs_task_grads is not Weighting.needs_task_grads:  # it asks for them: it used them
        assert sum(e["task_grad_steps"] for e in logged) > 0



@pytest.mark.parametrize("method", sorted(WEIGHTINGS))
def test_method_resumes_exactly(
    synthetic_dir: Path, tmp_path: Path, method: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stopped by a signal after update 3 and resumed, every method logs what the straight run
    logs: each value it logs (not only the ones it learns with) must be in its state_dict."""
    import signal

    from catsmt.run.checkpoint import load_checkpoint
    from catsmt.run.folder import resume_config
    from catsmt.training import trainer

    from .test_kill_resume import events, same

    common = ("train.max_steps=6", "train.valid_every=3", "train.log_every=1", "model.dim=32",
              "model.ffn_dim=64", "data.max_tokens=384", f"weighting.method={method}", *SHORT.get(method, []))
    train(tiny_config(synthetic_dir, tmp_path / "straight", *common))
    real_step = trainer.train_step

    def step_then_stop(ctx, method_, step, parts):  # type: ignore[no-untyped-def]
        stats = real_step(ctx, method_, step, parts)
        if step == 2:  # the third update: SIGINT, as a user's Ctrl-C
            signal.raise_signal(signal.SIGINT)
        return stats

    monkeypatch.setattr(trainer, "train_step", step_then_stop)
    assert train(tiny_config(synthetic_dir, tmp_path / "resumed", *common)).stopped == "signal"
    monkeypatch.undo()
    train(resume_config(tmp_path / "resumed"), resume=True)
    assert events(tmp_path / "resumed") == events(tmp_path / "straight")
    a, b = (load_checkpoint(tmp_path / r / "checkpoints" / "last.pt") for r in ("straight", "resumed"))
    assert same(a["weighting"], b["weighting"]) and same(a["model"], b["model"])


def test_cats_with_token_prior_and_alpha_held_trains_as_its_temperature(synthetic_dir: Path, tmp_path: Path) -> None:
    """With ``token_prior`` and α held at uniform (alpha_lr 0), CATS's meta steps (per-language
    gradients, combined) and plain steps give the update static temperature gives: the same
    losses at every update. Without token_prior they differ as soon as a language fills two
    of the K slots."""
    common = ("train.max_steps=8", "train.valid_every=8", "train.log_every=1", "model.dim=32", "model.ffn_dim=64",
              "model.dropout=0.0", "data.max_tokens=384")

    def losses(name: str, *weighting: str) -> list[float]:
        train(tiny_config(synthetic_dir, tmp_path / name, *common, *weighting))
        events = read_metrics(tmp_path / name / "metrics.jsonl")
        return [e["loss"] for e in events if e["event"] == "train" and e["lang"] == "all"]

    static = losses("t2", "weighting.method=temperature", "weighting.temperature=2")
    cats = ("weighting.method=cats", "weighting.temperature=2", "weighting.alpha_lr=0", "weighting.update_every=[[0,2]]")
    held = losses("cats-prior", *cats, "weighting.token_prior=true")
    plain = losses("cats", *cats)
    assert len(static) == 8 and held == pytest.approx(static, rel=1e-4)
    assert plain != pytest.approx(static, rel=1e-4)
