"""PrefetchingSampler hands out exactly the batches, and saves exactly the states, of the
sampler it wraps, also when the distribution changes between batches (as under MultiDDS)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from catsmt.data.errors import DataError
from catsmt.data.prefetch import PrefetchingSampler
from catsmt.data.sampler import BatchSampler
from catsmt.weighting.base import temperature_probs

from .test_sampler import SIZES, make_task, same


@pytest.fixture(scope="module")
def tasks():
    return {name: make_task(name, n, seed=i) for i, (name, n) in enumerate(SIZES.items())}


def make(tasks, **kw) -> BatchSampler:
    return BatchSampler(tasks, temperature_probs(SIZES, 5.0), max_tokens=1024, langs_per_batch=3, seed=2, **kw)


@pytest.mark.parametrize("pack_len", [0, 64])
def test_same_batches_and_states_as_without_prefetching(tasks, pack_len):
    plain, ahead = make(tasks, pack_len=pack_len), PrefetchingSampler(make(tasks, pack_len=pack_len))
    rng = np.random.default_rng(0)
    for step in range(60):
        if step % 7 == 3:  # a new distribution now and then, as MultiDDS sets one
            p = rng.dirichlet(np.ones(3))
            probs = dict(zip(sorted(SIZES), p.tolist(), strict=True))
            plain.set_probs(probs)
            ahead.set_probs(probs)
        a, b = plain.next_batch(), ahead.next_batch()
        assert same(a, b), step
        if pack_len:
            assert all(torch.equal(x.src_seg, y.src_seg) for x, y in zip(a.parts, b.parts, strict=True))
        assert ahead.state_dict() == plain.state_dict(), step
    ahead.close()


def test_a_saved_state_resumes_in_a_sampler_without_prefetching(tasks):
    ahead = PrefetchingSampler(make(tasks))
    for _ in range(13):
        ahead.next_batch()
    state = ahead.state_dict()
    expected = [ahead.next_batch() for _ in range(5)]
    resumed = make(tasks)
    resumed.load_state_dict(state)
    assert all(same(resumed.next_batch(), b) for b in expected)
    back = PrefetchingSampler(make(tasks))
    back.load_state_dict(state)
    assert all(same(back.next_batch(), b) for b in expected)
    assert back.epochs() == resumed.epochs()


def test_bad_probabilities_are_refused_at_once(tasks):
    ahead = PrefetchingSampler(make(tasks))
    ahead.next_batch()
    with pytest.raises(DataError, match="unknown languages"):
        ahead.set_probs({"zzz": 1.0})
