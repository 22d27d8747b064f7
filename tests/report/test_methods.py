"""The methods `catsmt compare` knows: derived from the weighting registry, labelled by the classes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from catsmt.report.methods import (
    TEMPERATURE_PRESETS,
    is_proposed,
    method_label,
    method_presets,
    parse_methods,
)
from catsmt.weighting import WEIGHTINGS, Weighting, register
from catsmt.weighting.temperature import TemperatureParams


def test_every_registered_method_is_a_preset_that_selects_it() -> None:
    presets = method_presets()
    assert set(presets) == set(WEIGHTINGS) | set(TEMPERATURE_PRESETS)
    for name in WEIGHTINGS:
        assert presets[name] == [f"weighting.method={name}"]
    assert presets["tinf"] == ["weighting.method=temperature", "weighting.temperature=inf"]


@pytest.mark.parametrize(("spec", "label"), [
    ("famo", "FAMO"), ("dro", "DRO"), ("unimax", "UniMax"), ("torchjd", "torchjd"),
    ("torchjd+aggregator=upgrad", "torchjd (aggregator=upgrad)"), ("dro+mode=reweight", "DRO (mode=reweight)"),
    ("t1", "T=1"), ("tinf", "T=inf"), ("cats", "CATS"), ("multidds", "MultiDDS"),
])
def test_labels_come_from_the_classes(spec: str, label: str) -> None:
    assert parse_methods(spec) == [spec]
    assert method_label(spec) == label


def test_labels_tell_every_preset_apart() -> None:
    labels = [method_label(name) for name in method_presets()]
    assert len(set(labels)) == len(labels), labels
    assert all(WEIGHTINGS[name].label for name in WEIGHTINGS), "a registered method without a label"


class _Plugin(Weighting):
    Params = TemperatureParams
    label = "Plugged"


@pytest.fixture
def plugin() -> Iterator[str]:
    register("plugged", _Plugin)
    try:
        yield "plugged"
    finally:
        del WEIGHTINGS["plugged"]


def test_a_method_registered_later_is_compared_and_labelled(plugin: str) -> None:
    assert parse_methods(f"t1,{plugin}+temperature=2") == ["t1", f"{plugin}+temperature=2"]
    assert method_label(plugin) == "Plugged"
    assert method_presets()[plugin] == [f"weighting.method={plugin}"]


def test_unknown_methods_are_named_with_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="unknown method 'catz'; valid: t1, t5, tinf, cats, dro, famo") as e:
        parse_methods("t1,catz")
    assert all(name in str(e.value) for name in ("unimax", "torchjd"))
    with pytest.raises(ValueError, match="unknown methods 'a', 'b'"):
        parse_methods("a,t1,b")
    with pytest.raises(ValueError, match="no method given"):
        parse_methods(" , ")
    with pytest.raises(ValueError, match="listed twice"):
        parse_methods("famo,famo")


def test_only_cats_and_its_variants_are_the_proposed_method() -> None:
    assert is_proposed("cats") and is_proposed("cats+alpha_lr=0.2")
    assert not any(is_proposed(name) for name in method_presets() if name != "cats")
