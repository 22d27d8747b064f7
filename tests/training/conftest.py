"""A tiny synthetic corpus built once per test session, and a config to train on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from catsmt.config import Config, load_config
from catsmt.data.recipes import build


@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synthetic")
    build("synthetic", out, sizes=[600, 600, 120, 120], valid=40, test=40)
    return out


def tiny_config(data_dir: Path, run_dir: Path, *overrides: str) -> Config:
    return load_config(
        None,
        [
            f"data.dir={data_dir}",
            "data.vocab_size=200",
            "data.max_tokens=768",
            "data.langs_per_batch=4",
            "model.preset=tiny",
            "model.layers=1",
            "model.dim=64",
            "model.ffn_dim=128",
            "model.dropout=0.1",
            f"train.run_dir={run_dir}",
            "train.device=cpu",
            "train.threads=1",
            "train.lr=0.005",
            "train.warmup_steps=30",
            "train.valid_every=10",
            "train.log_every=5",
            "train.progress=false",
            "train.tensorboard=false",
            *overrides,
        ],
    )
