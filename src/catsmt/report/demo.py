"""``catsmt demo``: the README's main job on a small default.

Builds tatoeba-related (from the network or an offline mirror), trains a tiny model with
T=1, T=5 and CATS for a bounded time, evaluates each on the test split with beam search,
prints the Table-2-style table and writes the report. ``--data synthetic`` runs the same
demo on generated data, with no download at all.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import yaml

from catsmt.data.errors import DataError
from catsmt.decoding.config import DecodeConfig
from catsmt.report.compare import CompareResult, compare

log = logging.getLogger(__name__)

DEMO_DATA = ("tatoeba-related", "synthetic")


@dataclass
class DemoSettings:
    """What ``catsmt demo`` trains; each field is a command-line option."""

    data: str = "tatoeba-related"
    out: str = "demo"
    minutes: float = 10.0
    methods: str = "t1,t5,cats"
    mirror: str | None = None
    max_steps: int = 800
    eval_sentences: int = 200


def demo_config(data_dir: Path, settings: DemoSettings, n_methods: int) -> dict:
    """The demo's shared config: a tiny model, equal step budget, a time cap per run.

    About 80% of the time goes to training, split evenly between the methods; the rest to
    data preparation and beam-search evaluation.
    """
    synthetic = settings.data == "synthetic"
    return {
        "data": {
            "dir": str(data_dir),
            "direction": "o2m",
            "vocab_size": 1000 if synthetic else 4000,
            "max_tokens": 2048,
            "langs_per_batch": 4,
        },
        "model": {"preset": "tiny", "dropout": 0.1},
        "train": {
            "device": "cpu",
            "max_steps": settings.max_steps,
            "max_minutes": round(settings.minutes * 0.8 / max(n_methods, 1), 2),
            "warmup_steps": 300,
            "lr": 0.003 if synthetic else 0.0015,
            "valid_every": 200,
            "log_every": 25,
            "progress": True,
        },
        "weighting": {"method": "temperature"},
        "decode": {"beam": 5, "lenpen": 1.0},
    }


def build_demo_data(settings: DemoSettings, out: Path) -> Path:
    """Build (or reuse) the demo corpus under ``out/data``.

    Raises:
        DataError: when the corpus cannot be downloaded and no mirror is given, with the
            two ways out (a mirror, or ``--data synthetic``).
    """
    from catsmt.data.recipes import build

    data_dir = out / "data" / settings.data
    if (data_dir / "stats.json").exists():
        return data_dir
    try:
        if settings.data == "synthetic":
            build("synthetic", data_dir)
        else:
            build(settings.data, data_dir, mirror=settings.mirror)
    except DataError as e:
        if settings.data == "synthetic":
            raise
        raise DataError(
            f"cannot build {settings.data}: {e}\n"
            "Without network access, pass --mirror DIR (or set CATSMT_MIRROR) to an offline mirror, "
            "or run the demo on generated data: catsmt demo --data synthetic"
        ) from e
    return data_dir


def run_demo(settings: DemoSettings, command: str = "catsmt demo") -> CompareResult:
    """Build the data, compare the methods, print and write the report."""
    from catsmt.report.compare import parse_methods

    if settings.data not in DEMO_DATA:
        raise ValueError(f"--data must be one of {', '.join(DEMO_DATA)}, got '{settings.data}'")
    methods = parse_methods(settings.methods)
    out = Path(settings.out)
    out.mkdir(parents=True, exist_ok=True)
    data_dir = build_demo_data(settings, out).resolve()
    config_path = out / "demo.yaml"
    config_path.write_text(yaml.safe_dump(demo_config(data_dir, settings, len(methods)), sort_keys=False))
    return compare(
        config_path, methods, [1], out, decode=DecodeConfig(beam=5), split="test",
        eval_max_sentences=settings.eval_sentences, command=command,
    )
