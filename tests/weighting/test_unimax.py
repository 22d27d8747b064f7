"""UniMax: the allocation of Algorithm 1 by hand, the epoch cap, the exact total budget."""

from __future__ import annotations

import io
import logging
import math

import numpy as np
import pytest
import torch

from catsmt.weighting.base import RunBudget
from catsmt.weighting.unimax import UniMax, UniMaxParams, unimax_allocation

LANGS = ["aze", "bel", "glg", "rus"]
SIZES = {"aze": 10, "bel": 20, "glg": 30, "rus": 1000}


def make(examples: int, epochs: float = 1.0, sizes: dict[str, int] = SIZES) -> UniMax:
    return UniMax(UniMaxParams(epochs=epochs), list(sizes), sizes, budget=RunBudget(updates=100, examples=examples))


@pytest.mark.parametrize(
    ("sizes", "budget", "epochs", "expected"),
    [
        # 200 / 4 = 50 each: aze, bel, glg are below 50 and take all of theirs (10 + 20 + 30);
        # rus takes the 140 left.
        ([10, 20, 30, 1000], 200, 1.0, [10, 20, 30, 140]),
        # every share is 100 and nobody is below it: uniform
        ([100, 200, 300], 300, 1.0, [100, 100, 100]),
        # caps 10, 100, 1000 at N = 2: 1000/3 > 10 -> 10; 990/2 > 100 -> 100; 890 -> the largest
        ([5, 50, 500], 1000, 2.0, [10, 100, 890]),
        # the same languages in another order: the allocation follows the language, not the slot
        ([500, 5, 50], 1000, 2.0, [890, 10, 100]),
        # 10 pairs over 3 equal languages: 3, 3, and the one left over to the last (largest) one
        ([1000, 1000, 1000], 10, 1.0, [3, 3, 4]),
        # 100 / 3 = 33.3: 25 is below it (capped at 25), the other two split 75 as 37 and 38
        ([25, 40, 60], 100, 1.0, [25, 37, 38]),
        # a fractional cap: ⌊1.5 · 3⌋ = 4
        ([3, 1000], 100, 1.5, [4, 96]),
        # no budget: nothing to draw
        ([7, 9], 0, 1.0, [0, 0]),
    ],
)
def test_allocation_matches_the_hand_computation(sizes: list[int], budget: int, epochs: float, expected: list[int]) -> None:
    assert unimax_allocation(sizes, budget, epochs) == expected


def test_budget_beyond_every_cap_gives_every_language_its_cap() -> None:
    assert unimax_allocation([10, 20], 100, 2.0) == [20, 40]


@pytest.mark.parametrize("seed", range(40))
def test_cap_held_total_exact_and_the_uncapped_share_equally(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 12))
    sizes = [int(s) for s in np.exp(rng.uniform(0, 12, n)).round() + 1]  # 1 .. ~160k, skewed
    epochs = float(rng.choice([0.5, 1.0, 2.0, 3.7, 10.0]))
    caps = [math.floor(epochs * s) for s in sizes]
    budget = int(rng.integers(0, int(1.2 * sum(caps)) + 2))
    alloc = unimax_allocation(sizes, budget, epochs)
    assert all(0 <= u <= cap for u, cap in zip(alloc, caps, strict=True))  # the epoch cap
    assert sum(alloc) == min(budget, sum(caps))  # the total budget, exactly
    uncapped = [u for u, cap in zip(alloc, caps, strict=True) if u < cap]
    if uncapped:  # those below their cap share equally (up to one pair), above every capped one
        assert max(uncapped) - min(uncapped) <= 1
        assert all(u <= min(uncapped) for u, cap in zip(alloc, caps, strict=True) if u == cap)


def test_sampling_probs_are_the_allocation_normalised() -> None:
    m = make(200)
    assert m.allocation == [10, 20, 30, 140]
    assert m.sampling_probs() == pytest.approx({"aze": 0.05, "bel": 0.1, "glg": 0.15, "rus": 0.7})
    assert m.log_values() == pytest.approx({"unimax_epochs/aze": 1.0, "unimax_epochs/bel": 1.0, "unimax_epochs/glg": 1.0, "unimax_epochs/rus": 0.14})


def test_a_small_budget_is_uniform_and_no_budget_too() -> None:
    assert make(40).sampling_probs() == pytest.approx(dict.fromkeys(LANGS, 0.25))
    assert make(0).sampling_probs() == pytest.approx(dict.fromkeys(LANGS, 0.25))


def test_every_language_capped_is_proportional_and_warns(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="catsmt.weighting.unimax"):
        m = make(10_000, epochs=2.0)
    assert m.allocation == [20, 40, 60, 2000]
    total = sum(SIZES.values())
    assert m.sampling_probs() == pytest.approx({k: v / total for k, v in SIZES.items()})
    assert "every language is capped" in caplog.text and "epochs above" in caplog.text


def test_it_needs_the_budget_and_a_positive_cap() -> None:
    with pytest.raises(ValueError, match="budget=RunBudget"):
        UniMax(UniMaxParams(), LANGS, SIZES)
    with pytest.raises(ValueError, match="epochs"):
        make(100, epochs=0.0)
    with pytest.raises(ValueError, match="training pairs"):
        make(100, sizes={"aze": 0, "bel": 5})


def test_state_round_trips_and_keeps_the_run_s_allocation() -> None:
    original = make(200)
    buf = io.BytesIO()
    torch.save(original.state_dict(), buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)
    restored = make(200)
    restored.load_state_dict(state)
    assert restored.sampling_probs() == original.sampling_probs()
    # a run resumed with another budget continues with the allocation it was sampling from
    longer = make(400)
    assert longer.allocation != original.allocation
    longer.load_state_dict(state)
    assert longer.sampling_probs() == original.sampling_probs()
    with pytest.raises(ValueError, match="languages"):
        make(200, sizes={"aze": 10, "bel": 20}).load_state_dict(state)
