"""Every registered weighting method trains through the real loop and logs its weights."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from catsmt.training.metrics import read_metrics
from catsmt.training.trainer import train
from catsmt.weighting import WEIGHTINGS

from .conftest import tiny_config

# Update intervals shortened so each method's learning step happens within 6 updates.
SHORT = {
    "cats": ["weighting.update_every=[[0,2]]"],
    "gradnorm": ["weighting.update_every=1"],
    "multidds": ["weighting.update_every=2"],
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
    if method != "temperature":  # every other method used per-language gradients at least once
        assert sum(e["task_grad_steps"] for e in logged) > 0
