"""The verdict's reading of the numbers: the T=1 / T=inf separation in seed sds, and where
CATS stands against the front of every static temperature that ran."""

from __future__ import annotations

import statistics
from types import SimpleNamespace

import pytest

from catsmt.report.methods import method_label, static_temperature
from catsmt.report.verdict import verdict


def _run(method: str, low: tuple[float, float], high: tuple[float, float]) -> SimpleNamespace:
    """A run with two low- and two high-resource languages of the given chrF."""
    langs = {
        "lo1": {"chrf": low[0], "bleu": 0.0, "group": "low"}, "lo2": {"chrf": low[1], "bleu": 0.0, "group": "low"},
        "hi1": {"chrf": high[0], "bleu": 0.0, "group": "high"}, "hi2": {"chrf": high[1], "bleu": 0.0, "group": "high"},
    }
    return SimpleNamespace(method=method, scores={"langs": langs})


def _line(lines: list[str], start: str) -> str:
    [line] = [x for x in lines if x.startswith(start)]
    return line


def test_separation_is_the_mean_difference_in_the_larger_seed_sd() -> None:
    # T=1 seeds: low means 20, 22; T=inf seeds: 24, 24.5 -> difference 3.25, sds 1.414 and 0.354.
    runs = [_run("t1", (20, 20), (30, 30)), _run("t1", (22, 22), (31, 31)),
            _run("tinf", (24, 24), (25, 25)), _run("tinf", (24.5, 24.5), (26, 26))]
    line = _line(verdict(runs, label=method_label), "T=∞ against T=1")
    low_sds = 3.25 / statistics.stdev([20, 22])
    high_sds = 5.0 / max(statistics.stdev([30, 31]), statistics.stdev([25, 26]))
    assert "+3.25" in line and "-5.00" in line
    assert f"({low_sds:.1f} and {high_sds:.1f} seed sds apart, 2 seeds)" in line
    # 2.3 sds on the low-resource side is under the 3-sd bar: opposite, not developed.
    assert "opposite directions, but within 3 seed sds on the low-resource side" in line


@pytest.mark.parametrize(
    ("tinf_low", "tinf_high", "reading"),
    [
        # low: 4.15 / 0.35 = 11.7 sds, high: 5.0 / 0.71 = 7.1 sds
        ((24.0, 24.5), (25.0, 26.0), "the trade-off shows"),
        # high: -0.5 / 1.41 = 0.35 sds
        ((24.0, 24.5), (29.0, 31.0), "opposite directions, but within 3 seed sds on the high-resource side"),
        # low: +0.9 / 1.41 = 0.6 sds as well
        ((20.0, 22.0), (29.0, 31.0), "within 3 seed sds on the low-resource and high-resource sides"),
    ],
)
def test_developed_needs_both_sides_past_three_sds(
    tinf_low: tuple[float, float], tinf_high: tuple[float, float], reading: str
) -> None:
    runs = [_run("t1", (20, 20), (30, 30)), _run("t1", (20.2, 20.2), (31, 31)),
            _run("tinf", (tinf_low[0],) * 2, (tinf_high[0],) * 2), _run("tinf", (tinf_low[1],) * 2, (tinf_high[1],) * 2)]
    assert reading in _line(verdict(runs, label=method_label), "T=∞ against T=1")


def test_same_direction_is_no_trade_off() -> None:
    runs = [_run("t1", (20, 20), (30, 30)), _run("tinf", (21, 21), (31, 31))]
    assert "no trade-off" in _line(verdict(runs, label=method_label), "T=∞ against T=1")


def test_a_static_temperature_outside_the_presets_is_on_the_front() -> None:
    # CATS beats T=1, T=5 and T=inf on the low-resource side but a static T=2 dominates it.
    runs = [_run("t1", (18, 18), (26, 26)), _run("t5", (21, 21), (23, 23)), _run("tinf", (20, 20), (20, 20)),
            _run("temperature+temperature=2", (22, 22), (25.5, 25.5)), _run("cats+temperature=2", (21.5, 21.5), (25, 25))]
    line = _line(verdict(runs, label=method_label), "CATS")
    assert "dominated by T=2" in line and "best temperature, T=2" in line


@pytest.mark.parametrize(("low", "high", "where"), [
    ((22, 22), (26, 26), "on or beyond the Pareto front"),
    ((20, 20), (24, 24), "on the front between the temperatures"),
    ((19, 19), (22, 22), "dominated by T=5"),
])
def test_where_cats_lands(low: tuple[float, float], high: tuple[float, float], where: str) -> None:
    runs = [_run("t1", (18, 18), (26, 26)), _run("t5", (21, 21), (23, 23)), _run("cats", low, high)]
    assert where in _line(verdict(runs, label=method_label), "CATS")


@pytest.mark.parametrize(("spec", "temperature"), [
    ("t1", "1"), ("tinf", "inf"), ("temperature+temperature=2", "2"), ("t5+temperature=3", "3"),
    ("temperature", "1.0"), ("cats+temperature=2", None), ("gradnorm", None),
])
def test_static_temperatures_are_recognised_by_their_method(spec: str, temperature: str | None) -> None:
    assert static_temperature(spec) == temperature
    if temperature is not None and "+" in spec:
        assert method_label(spec) == f"T={temperature}"
