"""Tests for catsmt.evaluation.significance, with sacrebleu's PairedTest as the reference."""

from __future__ import annotations

import os
import random

import pytest
from sacrebleu.metrics import BLEU, CHRF
from sacrebleu.significance import PairedTest, Result

from catsmt.evaluation.significance import bootstrap_p_value, paired_bootstrap

WORDS = [
    "the",
    "a",
    "cat",
    "dog",
    "sat",
    "on",
    "mat",
    "house",
    "red",
    "blue",
    "green",
    "big",
    "small",
    "ran",
    "fast",
    "slow",
]
GROUPS = {"aze": "low", "bel": "low", "por": "high"}


def _sentences(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 12))) for _ in range(n)]


def _noisy(refs: list[str], keep: float, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [
        " ".join(w if rng.random() < keep else rng.choice(WORDS) for w in ref.split())
        for ref in refs
    ]


@pytest.fixture(scope="module")
def refs() -> dict[str, list[str]]:
    return {
        lang: _sentences(n, seed=i)
        for i, (lang, n) in enumerate([("aze", 40), ("bel", 25), ("por", 60)])
    }


@pytest.fixture(scope="module")
def systems(refs) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    # two systems of similar quality: some languages will, some won't differ significantly
    a = {lang: _noisy(r, 0.62, seed=10 + i) for i, (lang, r) in enumerate(refs.items())}
    b = {lang: _noisy(r, 0.55, seed=20 + i) for i, (lang, r) in enumerate(refs.items())}
    return a, b


def _sacrebleu_p(hyps_a, hyps_b, refs, metric, n_samples=0) -> float:
    """The reference: sacrebleu's own paired bootstrap, B as the baseline."""
    _, table = PairedTest(
        [("B", hyps_b), ("A", hyps_a)], {"m": metric}, [refs], test_type="bs", n_samples=n_samples
    )()
    (name,) = [k for k in table if k != "System"]
    result = table[name][1]
    assert isinstance(result, Result) and result.p_value is not None
    return result.p_value


def test_per_language_p_values_equal_sacrebleus(refs, systems, monkeypatch):
    monkeypatch.delenv("SACREBLEU_SEED", raising=False)  # sacrebleu's default seed, 12345
    a, b = systems
    ours = paired_bootstrap(a, b, refs, GROUPS)  # defaults: 1000 samples, seed 12345
    for lang in refs:
        assert ours[lang]["p"] == _sacrebleu_p(a[lang], b[lang], refs[lang], BLEU())
        assert ours[lang]["delta"] == pytest.approx(
            BLEU().corpus_score(a[lang], [refs[lang]]).score
            - BLEU().corpus_score(b[lang], [refs[lang]]).score
        )


def test_chrf_p_values_equal_sacrebleus_with_the_same_seed(refs, systems, monkeypatch):
    monkeypatch.setenv("SACREBLEU_SEED", "7")
    a, b = systems
    ours = paired_bootstrap(a, b, refs, metric="chrf", n_samples=200, seed=7)
    for lang in ("aze", "bel"):
        assert ours[lang]["p"] == _sacrebleu_p(a[lang], b[lang], refs[lang], CHRF(), 200)


def test_average_over_one_language_reproduces_sacrebleu(refs, systems):
    # our own resampling for the averages is sacrebleu's scheme: with one language the
    # average *is* that language, and the p-values must coincide exactly
    a, b = systems
    for lang in refs:
        out = paired_bootstrap({lang: a[lang]}, {lang: b[lang]}, {lang: refs[lang]}, n_samples=300)
        assert out["avg_all"]["p"] == out[lang]["p"]
        assert out["avg_all"]["delta"] == pytest.approx(out[lang]["delta"])


def test_identical_systems_are_never_significant(refs, systems):
    a, _ = systems
    for seed in (1, 2, 12345):
        out = paired_bootstrap(a, dict(a), refs, GROUPS, n_samples=100, seed=seed)
        assert set(out) == {"aze", "bel", "por", "avg_all", "avg_low", "avg_high"}
        for result in out.values():
            assert result["delta"] == 0.0
            assert not result["significant"]


def test_clearly_better_system_is_significant(refs):
    garbled = {lang: _noisy(r, 0.2, seed=3) for lang, r in refs.items()}
    out = paired_bootstrap(refs, garbled, refs, GROUPS, n_samples=200)
    for key, result in out.items():
        assert result["significant"], key
        assert result["delta"] > 50.0
        assert result["p"] < 0.01


def test_averages_and_symmetry(refs, systems):
    a, b = systems
    ab = paired_bootstrap(a, b, refs, GROUPS, n_samples=100)
    ba = paired_bootstrap(b, a, refs, GROUPS, n_samples=100)
    deltas = {lang: ab[lang]["delta"] for lang in refs}
    assert ab["avg_all"]["delta"] == pytest.approx(sum(deltas.values()) / 3)
    assert ab["avg_low"]["delta"] == pytest.approx((deltas["aze"] + deltas["bel"]) / 2)
    assert ab["avg_high"]["delta"] == pytest.approx(deltas["por"])
    for key in ab:
        assert ba[key]["delta"] == pytest.approx(-ab[key]["delta"])
        assert ba[key]["p"] == pytest.approx(ab[key]["p"])
    assert paired_bootstrap(a, b, refs, GROUPS, n_samples=100) == ab  # deterministic


def test_without_groups_only_the_overall_average():
    refs = {"xx": _sentences(10, 1), "yy": _sentences(12, 2)}
    out = paired_bootstrap(refs, refs, refs, n_samples=20)
    assert list(out) == ["xx", "yy", "avg_all"]


def test_bootstrap_p_value_formula():
    import numpy as np

    # |a-b| = [0, 1, 2, 3] -> centred [-1.5, -0.5, 0.5, 1.5]; exceeding 0.4: two -> 3/5
    a = np.array([0.0, 1.0, 2.0, 3.0])
    assert bootstrap_p_value(a, np.zeros(4), 0.4) == pytest.approx(3 / 5)
    assert bootstrap_p_value(a, np.zeros(4), -0.4) == pytest.approx(3 / 5)  # two-sided


def test_seed_environment_is_restored(refs, systems, monkeypatch):
    monkeypatch.setenv("SACREBLEU_SEED", "99")
    a, b = systems
    paired_bootstrap(
        {"aze": a["aze"]}, {"aze": b["aze"]}, {"aze": refs["aze"]}, n_samples=10, seed=5
    )
    assert os.environ["SACREBLEU_SEED"] == "99"


def test_bad_input_is_named(refs, systems):
    a, b = systems
    with pytest.raises(ValueError, match="'bel' is missing from sys_b"):
        paired_bootstrap(a, {k: v for k, v in b.items() if k != "bel"}, refs, n_samples=10)
    with pytest.raises(ValueError, match=r"'por': 59 hypotheses but 60 references"):
        paired_bootstrap(a, {**b, "por": b["por"][:-1]}, refs, n_samples=10)
    with pytest.raises(ValueError, match="unknown metric 'ter'"):
        paired_bootstrap(a, b, refs, metric="ter")
    with pytest.raises(ValueError, match="seed must be a positive integer"):
        paired_bootstrap(a, b, refs, seed=0)
    with pytest.raises(ValueError, match="n_samples must be a positive integer"):
        paired_bootstrap(a, b, refs, n_samples=0)


def test_sacrebleu_logs_no_info_lines_per_test(refs, systems, caplog):
    """A report runs hundreds of paired tests; sacrebleu's four INFO lines each flooded the log."""
    import logging

    caplog.set_level(logging.INFO)
    a, b = systems
    paired_bootstrap(a, b, refs, GROUPS, metric="chrf", n_samples=50)
    assert not [r for r in caplog.records if r.name.startswith("sacrebleu") and r.levelno < logging.WARNING]
    assert logging.getLogger("sacrebleu").level == logging.NOTSET  # restored afterwards
