"""CATS on real data (tatoeba-related from the offline mirror), through the real training loop."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from catsmt.config import load_config
from catsmt.data.recipes import build
from catsmt.training.trainer import train

MIRROR = Path(os.environ.get("CATSMT_MIRROR", Path(__file__).resolve().parents[2] / ".." / "shared" / "mirror"))
needs_mirror = pytest.mark.skipif(not (MIRROR / "MANIFEST.tsv").exists(), reason="offline mirror of the Tatoeba files not found")


def _alphas(tmp_path: Path, steps: int, extra: list[str]) -> tuple[list[dict[str, float]], float]:
    torch.set_num_threads(1)
    data = tmp_path / "tatoeba"
    build("tatoeba-related", data, mirror=MIRROR)
    cfg = load_config(None, [
        f"data.dir={data}", "data.vocab_size=1000", "data.max_tokens=1024", "data.vocab_sample=20000",
        "model.preset=tiny", "model.dim=64", "model.ffn_dim=128", "model.layers=1",
        f"train.run_dir={tmp_path / 'run'}", "train.device=cpu", "train.threads=1", f"train.max_steps={steps}",
        "train.warmup_steps=10", f"train.valid_every={steps}", "train.log_every=2", "train.progress=false",
        "train.tensorboard=false", "weighting.method=cats", "weighting.update_every=[[0,2]]", *extra,
    ])
    train(cfg)
    events = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    weights = [e["weights"] for e in events if e["event"] == "train" and e["lang"] == "all"]
    return weights, cfg.weighting.params.alpha_min


@needs_mirror
def test_alpha_moves_and_stays_on_the_capped_simplex_on_tatoeba(tmp_path: Path) -> None:
    """Ten meta updates on real gradients: α stays a distribution with every α_n ≥ alpha_min,
    moves away from 1/N, and λ_c rises from 0."""
    weights, floor = _alphas(tmp_path, 20, [])
    assert len(weights) == 10
    for w in weights:
        alpha = [v for k, v in w.items() if k.startswith("alpha/")]
        assert len(alpha) == 8
        assert abs(sum(alpha) - 1.0) < 1e-9 and min(alpha) >= floor - 1e-12
    last = [v for k, v in weights[-1].items() if k.startswith("alpha/")]
    assert max(abs(a - 1 / 8) for a in last) > 1e-3
    assert weights[-1]["cats/lambda_c"] > 0


@pytest.mark.slow
@needs_mirror
def test_literal_mode_leaves_the_simplex_on_tatoeba(tmp_path: Path) -> None:
    """Eq. 4 as written: with raw losses of ~7 nats and lr 0.1, α is negative after the first
    meta update."""
    weights, _ = _alphas(tmp_path, 6, ["weighting.mode=literal"])
    alpha = [v for k, v in weights[0].items() if k.startswith("alpha/")]
    assert min(alpha) < 0
