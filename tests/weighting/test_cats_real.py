"""CATS on real data (tatoeba-related from the offline mirror): alpha does not collapse."""

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


@pytest.mark.slow
@pytest.mark.skipif(not (MIRROR / "MANIFEST.tsv").exists(), reason="offline mirror of the Tatoeba files not found")
def test_alpha_stays_off_the_lower_bound_on_tatoeba(tmp_path: Path) -> None:
    """After warm-up, at most half the languages may sit at alpha_min (the issue's criterion)."""
    torch.set_num_threads(1)
    data = tmp_path / "tatoeba"
    build("tatoeba-related", data, mirror=MIRROR)
    cfg = load_config(None, [
        f"data.dir={data}", "data.vocab_size=2000", "data.max_tokens=1024", "data.vocab_sample=40000",
        "model.preset=tiny", "model.dim=64", "model.ffn_dim=128", "model.layers=1",
        f"train.run_dir={tmp_path / 'run'}", "train.device=cpu", "train.threads=1", "train.max_steps=200",
        "train.warmup_steps=50", "train.valid_every=200", "train.log_every=10", "train.progress=false",
        "train.tensorboard=false", "weighting.method=cats", "weighting.update_every=[[0,5]]",
    ])
    train(cfg)
    events = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    alphas = [e["weights"] for e in events if e["event"] == "train" and e["lang"] == "all" and e["step"] > 50]
    floor = cfg.weighting.params.alpha_min
    for w in alphas:
        values = [v for k, v in w.items() if k.startswith("alpha/")]
        assert len(values) == 8
        assert sum(v <= floor * 1.01 for v in values) <= 4, w
        assert abs(sum(values) - 1.0) < 1e-6
