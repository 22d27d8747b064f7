"""catsmt demo trains the shipped CPU benchmark: its settings and the config file agree."""

from __future__ import annotations

from pathlib import Path

import yaml

from catsmt.config import load_config
from catsmt.report.demo import BENCHMARK, DemoSettings, demo_config

ROOT = Path(__file__).resolve().parents[2]


def test_demo_settings_are_those_of_the_shipped_benchmark_config() -> None:
    shipped = yaml.safe_load((ROOT / "configs" / "tatoeba-m2o-cpu.yaml").read_text())
    for section, values in BENCHMARK.items():
        for key, value in values.items():
            if (section, key) != ("weighting", "method"):
                assert shipped[section][key] == value, f"{section}.{key}"


def test_demo_config_loads_with_equal_updates_and_ten_validations(tmp_path: Path) -> None:
    path = tmp_path / "demo.yaml"
    path.write_text(yaml.safe_dump(demo_config(tmp_path / "data", DemoSettings(max_steps=1000))))
    cfg = load_config(path)
    assert cfg.train.max_steps == 1000 and cfg.train.max_minutes == 0  # no time cap
    assert cfg.train.max_steps // cfg.train.valid_every >= 10
    # the lr the demo's trade-off was measured with (results/demo-lr/), not the benchmark's
    assert cfg.train.lr == 0.003 and BENCHMARK["train"]["lr"] == 0.005
