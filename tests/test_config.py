"""Config loading: strict keys with suggestions, typed coercion, presets, weighting schema."""

from __future__ import annotations

import contextlib
import math
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from catsmt.config import Config, ConfigError, load_config, parse_overrides, save_config


def test_defaults_load_without_a_file() -> None:
    cfg = load_config()
    assert isinstance(cfg, Config)
    assert cfg.train.lr == 0.0015 and cfg.train.betas == [0.9, 0.98]  # the paper's Adam


def test_unknown_key_suggests_the_nearest() -> None:
    with pytest.raises(ConfigError, match="unknown key 'max_tokns' in data; did you mean 'max_tokens'"):
        load_config(overrides=["data.max_tokns=10"])


def test_unknown_section_lists_valid_ones() -> None:
    with pytest.raises(ConfigError, match="unknown key 'trian'.*'train'"):
        load_config(overrides=["trian.lr=1"])


def test_wrong_type_names_key_and_expected_type() -> None:
    with pytest.raises(ConfigError, match=r"train.max_steps: expected an integer, got 'many'"):
        load_config(overrides=["train.max_steps=many"])


def test_overrides_are_typed() -> None:
    cfg = load_config(overrides=["train.max_steps=12", "data.langs=aze,bel", "weighting.temperature=inf", "train.tensorboard=false"])
    assert cfg.train.max_steps == 12
    assert cfg.data.langs == ["aze", "bel"]
    assert math.isinf(cfg.weighting.params.temperature)
    assert cfg.train.tensorboard is False


def test_model_preset_then_explicit_keys(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"model": {"preset": "ted", "dropout": 0.2}}))
    cfg = load_config(path)
    assert (cfg.model.layers, cfg.model.dim, cfg.model.ffn_dim, cfg.model.heads) == (6, 512, 1024, 4)
    assert cfg.model.dropout == 0.2


def test_weighting_keys_are_checked_against_the_method() -> None:
    with pytest.raises(ConfigError, match="did you mean 'alpha_lr'"):
        load_config(overrides=["weighting.method=cats", "weighting.alpha_rl=0.2"])
    with pytest.raises(ConfigError, match="unknown weighting method 'catz'; valid methods:"):
        load_config(overrides=["weighting.method=catz"])


def test_validation_errors_name_the_section() -> None:
    with pytest.raises(ConfigError, match="train: precision must be"):
        load_config(overrides=["train.precision=fp8"])


def test_resolved_config_round_trips(tmp_path: Path) -> None:
    cfg = load_config(overrides=["weighting.method=cats", "model.preset=small", "weighting.temperature=inf"])
    save_config(cfg, tmp_path / "config.yaml")
    again = load_config(tmp_path / "config.yaml")
    assert again.to_dict() == cfg.to_dict()


def test_bad_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: [unclosed")
    with pytest.raises(ConfigError, match="bad.yaml: not valid YAML"):
        load_config(bad)
    top = tmp_path / "list.yaml"
    top.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(top)


def test_override_syntax_errors() -> None:
    with pytest.raises(ConfigError, match="not of the form"):
        parse_overrides(["train.max_steps"])
    with pytest.raises(ConfigError, match="empty key"):
        parse_overrides(["train..x=1"])


scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=8))
structures = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=10,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["data", "model", "train", "weighting", "decode", "x"]), structures, max_size=4))
def test_random_structures_load_or_raise_config_error(data: dict) -> None:
    from catsmt.config import from_dict

    with contextlib.suppress(ConfigError):
        from_dict(Config, data)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_as_a_file_load_or_raise_config_error(tmp_path_factory: pytest.TempPathFactory, blob: bytes) -> None:
    path = tmp_path_factory.mktemp("cfg") / "c.yaml"
    path.write_bytes(blob)
    with contextlib.suppress(ConfigError):
        load_config(path)


def test_every_shipped_config_loads() -> None:
    configs = sorted((Path(__file__).parents[1] / "configs").glob("*.yaml"))
    assert configs, "no configs shipped"
    for path in configs:
        load_config(path)


def test_switching_method_on_the_command_line_drops_the_files_hyperparameters(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"weighting": {"method": "cats", "alpha_lr": 0.2}}))
    cfg = load_config(path, ["weighting.method=temperature", "weighting.temperature=5"])
    assert cfg.weighting.method == "temperature" and cfg.weighting.params.temperature == 5
    same = load_config(path, ["weighting.method=cats"])
    assert same.weighting.params.alpha_lr == 0.2
