"""Tests of catsmt.data.sampler: slot languages follow p, budgets hold, state resumes exactly.

The tasks here are built straight from token lists (no SentencePiece): every source sentence
carries its own index, so a test can tell which pairs a batch holds.
"""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import torch

from catsmt.data.batch import Batch
from catsmt.data.binarize import TaskArrays, TokenArray
from catsmt.data.errors import DataError
from catsmt.data.sampler import (
    BatchSampler,
    LengthBucketing,
    Packing,
    length_batches,
    split_evenly,
)
from catsmt.weighting.base import temperature_probs

EOS, PAD, BASE = 3, 0, 10


def make_task(
    name: str, n: int, seed: int, tag: int = 4, median: float = 10.0, noise: float = 0.2
) -> TaskArrays:
    """``n`` pairs of tatoeba-like lengths: log-normal source lengths (median ``median``
    subwords), target lengths the source's times a log-normal ratio. Source token 1 is
    ``BASE + index`` of the pair."""
    rng = np.random.default_rng(seed)
    src_len = np.clip(np.round(rng.lognormal(math.log(median), 0.45, n)), 1, 60).astype(int)
    tgt_len = np.clip(np.round(src_len * rng.lognormal(0.05, noise, n)), 1, 60).astype(int)
    src = [[tag, BASE + i] + [5] * (int(k) - 1) + [EOS] for i, k in enumerate(src_len)]
    tgt = [[6] * int(k) for k in tgt_len]
    return TaskArrays(name, TokenArray.from_lists(src), TokenArray.from_lists(tgt), tag, PAD, EOS)


SIZES = {"aaa": 6000, "bbb": 2000, "ccc": 500}


@pytest.fixture(scope="module")
def tasks() -> dict[str, TaskArrays]:
    return {name: make_task(name, n, seed=i) for i, (name, n) in enumerate(SIZES.items())}


def sampler(tasks, probs=None, seed=1, max_tokens=2048, k=4, **kw) -> BatchSampler:
    probs = probs if probs is not None else temperature_probs(SIZES, 5.0)
    return BatchSampler(tasks, probs, max_tokens=max_tokens, langs_per_batch=k, seed=seed, **kw)


def ids(part) -> list[int]:
    """The pair indices of a LangBatch (source token 1)."""
    return (part.src[:, 1] - BASE).tolist()


def same(a: Batch, b: Batch) -> bool:
    return a.langs == b.langs and all(
        torch.equal(x.src, y.src)
        and torch.equal(x.tgt_in, y.tgt_in)
        and torch.equal(x.tgt_out, y.tgt_out)
        for x, y in zip(a.parts, b.parts, strict=True)
    )


def padded_cost(part) -> int:
    return part.n_sentences * max(part.src.shape[1], part.tgt_out.shape[1])


# -- the distribution --------------------------------------------------------------------
def test_temperature_one_is_proportional_and_inf_uniform():
    sizes = {"a": 1000, "b": 300, "c": 50}
    p1 = temperature_probs(sizes, 1.0)
    assert all(math.isclose(p1[k], v / 1350) for k, v in sizes.items())
    pinf = temperature_probs(sizes, float("inf"))
    assert all(math.isclose(p, 1 / 3) for p in pinf.values())
    p5 = temperature_probs(sizes, 5.0)
    assert p1["c"] < p5["c"] < pinf["c"]


@pytest.mark.parametrize("temperature", [1.0, float("inf")])
def test_token_share_of_each_language_matches_probs(tasks, temperature):
    probs = temperature_probs(SIZES, temperature)
    s = sampler(tasks, probs)
    tokens = dict.fromkeys(SIZES, 0)
    for _ in range(600):
        for part in s.next_batch().parts:
            tokens[part.lang] += padded_cost(part)
    total = sum(tokens.values())
    for lang, p in probs.items():
        assert abs(tokens[lang] / total - p) < 0.03, (lang, tokens[lang] / total, p)


def test_set_probs_changes_the_frequencies(tasks):
    s = sampler(tasks)
    s.set_probs({"aaa": 0.0, "bbb": 1.0, "ccc": 0.0})
    assert all(s.next_batch().langs == ["bbb"] for _ in range(20))
    s.set_probs({"aaa": 0.5, "ccc": 0.5})  # a missing language gets 0
    seen = {lang for _ in range(50) for lang in s.next_batch().langs}
    assert seen == {"aaa", "ccc"}
    assert s.probs == {"aaa": 0.5, "bbb": 0.0, "ccc": 0.5}


@pytest.mark.parametrize(
    "probs, match",
    [
        ({"aaa": 0.5, "zzz": 0.5}, "unknown languages zzz"),
        ({"aaa": 1.2, "bbb": -0.2}, "bbb=-0.2"),
        ({"aaa": 0.5, "bbb": 0.2}, "sum to 0.7"),
        ({"aaa": float("nan"), "bbb": 1.0}, "aaa=nan"),
    ],
)
def test_set_probs_rejects_bad_distributions(tasks, probs, match):
    with pytest.raises(DataError, match=match):
        sampler(tasks).set_probs(probs)


# -- batches -------------------------------------------------------------------------------
@pytest.mark.parametrize("k", [1, 3, 4])
def test_batches_have_at_most_k_languages_and_respect_the_budget(tasks, k):
    s = sampler(tasks, temperature_probs(SIZES, float("inf")), k=k, max_tokens=3000)
    for _ in range(200):
        batch = s.next_batch()
        assert 1 <= len(batch.parts) <= k
        assert len(set(batch.langs)) == len(batch.langs)
        assert sum(padded_cost(p) for p in batch.parts) <= 3000
        for p in batch.parts:
            lengths = (p.tgt_out != PAD).sum(1)
            assert (p.tgt_out[torch.arange(p.n_sentences), lengths - 1] == EOS).all()


def test_an_epoch_visits_every_pair_once(tasks):
    s = sampler(tasks, {"bbb": 1.0})
    seen: list[int] = []
    while True:
        batch = s.next_batch()
        if s.epochs()["bbb"] >= 1:  # this batch reaches into the second epoch
            last = ids(batch.parts[0])
            break
        seen.extend(ids(batch.parts[0]))
    assert len(seen) == len(set(seen))
    assert set(seen) | set(last) == set(range(SIZES["bbb"]))


def test_padding_share_on_realistic_lengths():
    sizes = {"aaa": 20000, "bbb": 8000, "ccc": 3000}
    tasks = {name: make_task(name, n, seed=10 + i) for i, (name, n) in enumerate(sizes.items())}
    s = BatchSampler(
        tasks, temperature_probs(sizes, 5.0), max_tokens=4096, langs_per_batch=4, seed=3
    )
    real = padded = 0
    for _ in range(400):
        batch = s.next_batch()
        real += batch.real_tokens()
        padded += batch.padded_tokens()
    assert real / padded >= 0.90


def test_a_pair_longer_than_a_slot_is_a_clear_error(tasks):
    with pytest.raises(DataError, match="max_tokens // langs_per_batch = 10"):
        sampler(tasks, max_tokens=40, k=4)


# -- determinism and state -------------------------------------------------------------
def test_same_seed_same_batches_other_seed_or_rank_other_batches(tasks):
    a, b = sampler(tasks, seed=7), sampler(tasks, seed=7)
    assert all(same(a.next_batch(), b.next_batch()) for _ in range(30))
    c, d = sampler(tasks, seed=8), sampler(tasks, seed=7, rank=1, world_size=2)
    first = sampler(tasks, seed=7).next_batch()
    assert not same(first, c.next_batch())
    assert not same(first, d.next_batch())


@pytest.mark.parametrize("n", [0, 5, 300])  # 300 batches cross epochs of ccc
def test_state_restores_mid_epoch(tasks, n):
    run = sampler(tasks, seed=4, max_tokens=1024)
    for _ in range(n):
        run.next_batch()
    run.set_probs({"aaa": 0.2, "bbb": 0.3, "ccc": 0.5})
    buf = io.BytesIO()
    torch.save({"sampler": run.state_dict()}, buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)["sampler"]
    fresh = sampler(tasks, seed=4, max_tokens=1024)
    fresh.load_state_dict(state)
    assert fresh.probs == run.probs
    assert all(same(run.next_batch(), fresh.next_batch()) for _ in range(40))
    if n == 300:
        assert fresh.epochs()["ccc"] > 1


def test_state_of_another_setup_is_refused(tasks):
    state = sampler(tasks, max_tokens=2048).state_dict()
    with pytest.raises(DataError, match="max_tokens=2048"):
        sampler(tasks, max_tokens=4096).load_state_dict(state)


# -- validation batches ----------------------------------------------------------------
def test_length_batches_cover_every_pair_once_within_limits(tasks):
    task = tasks["ccc"]
    batches = length_batches(task, max_tokens=300, max_sentences=16)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(len(task)))
    for idx in batches:
        assert 1 <= len(idx) <= 16
        assert len(idx) * int(task.costs[idx].max()) <= 300
    assert [b.tolist() for b in length_batches(task, 300, 16)] == [b.tolist() for b in batches]


def test_split_by_length_keeps_every_pair_and_cuts_only_where_padding_pays() -> None:
    from catsmt.data.sampler import PART_FILL, split_by_length

    rng = np.random.default_rng(0)
    costs = np.concatenate([rng.integers(5, 8, 300), rng.integers(40, 45, 60)])
    idx = np.arange(1000, 1000 + len(costs))
    parts = split_by_length(idx, costs, min_tokens=256)
    assert sorted(np.concatenate(parts).tolist()) == idx.tolist()  # the same pairs, once each
    assert len(parts) >= 2  # short and long pairs are not padded together
    for part in parts[:-1]:
        c = costs[part - 1000]
        assert c.sum() >= 256 and c.sum() / (len(c) * c.max()) >= PART_FILL * 0.8
    same = np.full(50, 7)
    assert len(split_by_length(np.arange(50), same, min_tokens=16)) == 1  # nothing to gain
    assert len(split_by_length(idx, costs, min_tokens=10**6)) == 1  # below the minimum size


def test_parts_of_one_language_hold_the_same_pairs_as_without_splitting(tasks) -> None:
    whole = sampler(tasks, max_tokens=32768, k=4)
    split = sampler(tasks, max_tokens=32768, k=4, min_part_tokens=1024)
    gained = 0.0
    for _ in range(5):
        a, b = whole.next_batch(), split.next_batch()
        assert len(b.parts) >= len(a.parts)
        for lang in set(a.langs):
            pairs_a = sorted(int(r[1]) for p in a.parts if p.lang == lang for r in p.src.tolist())
            pairs_b = sorted(int(r[1]) for p in b.parts if p.lang == lang for r in p.src.tolist())
            assert pairs_a == pairs_b  # the pair ids (BASE + index) are the same
        gained += b.real_tokens() / b.padded_tokens() - a.real_tokens() / a.padded_tokens()
    assert gained > 0


# -- packing -------------------------------------------------------------------------------
def packed_ids(part) -> list[int]:
    """The pair indices of a packed LangBatch: token 1 of each source segment."""
    starts = torch.ones_like(part.src_seg, dtype=torch.bool)
    starts[:, 1:] = part.src_seg[:, 1:] != part.src_seg[:, :-1]
    starts &= part.src_seg > 0
    return (part.src[torch.roll(starts, 1, dims=1)] - BASE).tolist()


def pair_costs(task: TaskArrays, pair_ids: list[int]) -> int:
    return int(task.costs[pair_ids].sum())


@pytest.mark.parametrize("k", [1, 4])
def test_packed_slots_hold_k_languages_within_the_token_budget(tasks, k):
    s = sampler(tasks, temperature_probs(SIZES, float("inf")), k=k, max_tokens=3000, pack_len=64)
    real = padded = 0
    for _ in range(100):
        batch = s.next_batch()
        assert 1 <= len(batch.parts) <= k and len(set(batch.langs)) == len(batch.langs)
        for p in batch.parts:
            assert p.src_seg is not None
            assert len(packed_ids(p)) == p.n_sentences
        assert sum(pair_costs(tasks[p.lang], packed_ids(p)) for p in batch.parts) <= 3000
        real += batch.real_tokens()
        padded += batch.padded_tokens()
    assert real / padded >= 0.93


def test_packed_epoch_visits_every_pair_once(tasks):
    s = sampler(tasks, {"bbb": 1.0}, max_tokens=1024, pack_len=64)
    seen: list[int] = []
    last: list[int] = []
    while s.epochs()["bbb"] < 1:
        seen.extend(last)
        last = packed_ids(s.next_batch().parts[0])
    # the last batch may run into the next epoch; before it no pair repeats
    assert len(seen) == len(set(seen))
    assert set(seen) | set(last) == set(range(SIZES["bbb"]))


def test_packed_sampler_state_restores_mid_epoch(tasks):
    run = sampler(tasks, seed=4, max_tokens=1024, pack_len=64)
    for _ in range(37):
        run.next_batch()
    fresh = sampler(tasks, seed=4, max_tokens=1024, pack_len=64)
    fresh.load_state_dict(run.state_dict())
    for _ in range(20):
        a, b = run.next_batch(), fresh.next_batch()
        assert same(a, b)
        assert all(torch.equal(x.src_seg, y.src_seg) for x, y in zip(a.parts, b.parts, strict=True))


def test_split_evenly_cuts_into_parts_of_at_least_the_minimum():
    costs = np.array([5, 7, 3, 9, 4, 6, 8, 2, 5, 1])  # 50 tokens
    idx = np.arange(100, 110)
    parts = split_evenly(idx, costs, 12)  # at most 50 // 12 = 4 parts, each >= 50 / 4 tokens
    assert np.array_equal(np.concatenate(parts), idx)  # in order, every pair once
    assert [int(costs[p - 100].sum()) for p in parts] == [15, 13, 22]  # the rest (8) joins the last
    assert [len(p) for p in split_evenly(idx, costs, 0)] == [10]
    assert [len(p) for p in split_evenly(idx, costs, 40)] == [10]


def test_packed_parts_hold_the_same_pairs_as_one_packed_part(tasks):
    whole = sampler(tasks, seed=7, max_tokens=8192, k=2, pack_len=64)
    cut = sampler(tasks, seed=7, max_tokens=8192, k=2, pack_len=64, min_part_tokens=1000)
    for _ in range(10):
        a, b = whole.next_batch(), cut.next_batch()
        assert len(b.parts) > len(a.parts)
        for lang in a.langs:
            mine = [packed_ids(p) for p in b.parts if p.lang == lang]
            assert sorted(sum(mine, [])) == sorted(packed_ids(a.parts[a.langs.index(lang)]))
            assert all(pair_costs(tasks[lang], m) >= 1000 for m in mine)


# -- the two strategies ------------------------------------------------------------------
def test_packing_never_computes_the_hilbert_curve(tasks, monkeypatch):
    import catsmt.data.sampler as sampler_module

    calls = []
    real = sampler_module.hilbert_index
    monkeypatch.setattr(sampler_module, "hilbert_index", lambda x, y: calls.append(1) or real(x, y))
    packed = sampler(tasks, max_tokens=1024, pack_len=64)
    assert isinstance(packed.strategy, Packing) and packed.pack_len == 64
    for _ in range(300):  # crosses epochs of ccc
        packed.next_batch()
    assert calls == []
    bucketed = sampler(tasks, max_tokens=1024)
    assert isinstance(bucketed.strategy, LengthBucketing) and bucketed.pack_len == 0
    assert len(calls) == len(SIZES)  # once per language, when built


@pytest.mark.parametrize(
    "saved, loaded, match",
    [
        (64, 0, "packs rows of pack_len=64, this one buckets by length"),
        (0, 64, "buckets by length .*, this one packs rows of pack_len=64"),
        (64, 128, "pack_len=64, this one packs rows of pack_len=128"),
    ],
)
def test_state_of_the_other_strategy_is_refused(tasks, saved, loaded, match):
    state = sampler(tasks, max_tokens=1024, pack_len=saved).state_dict()
    assert state["pack_len"] == saved
    with pytest.raises(DataError, match=match):
        sampler(tasks, max_tokens=1024, pack_len=loaded).load_state_dict(state)


@pytest.mark.parametrize("pack_len", [0, 64])
def test_state_without_pack_len_is_accepted(tasks, pack_len):
    run = sampler(tasks, seed=4, max_tokens=1024, pack_len=pack_len)
    for _ in range(10):
        run.next_batch()
    old = {k: v for k, v in run.state_dict().items() if k != "pack_len"}  # as written before
    fresh = sampler(tasks, seed=4, max_tokens=1024, pack_len=pack_len)
    fresh.load_state_dict(old)
    assert all(same(run.next_batch(), fresh.next_batch()) for _ in range(10))


class Int32Costs(TaskArrays):
    """A task whose costs come as int32 (as TaskArrays may give them to save memory)."""

    @property
    def costs(self) -> np.ndarray:
        return super().costs.astype(np.int32)


@pytest.mark.parametrize("pack_len, min_part_tokens", [(0, 0), (0, 1024), (64, 0), (64, 1000)])
def test_int32_costs_give_the_same_batches(tasks, pack_len, min_part_tokens):
    narrow = {k: Int32Costs(**vars(t)) for k, t in tasks.items()}
    assert narrow["aaa"].costs.dtype == np.int32
    kw = dict(seed=5, max_tokens=8192, k=2, pack_len=pack_len, min_part_tokens=min_part_tokens)
    a, b = sampler(tasks, **kw), sampler(narrow, **kw)
    for _ in range(60):  # crosses epochs of ccc
        x, y = a.next_batch(), b.next_batch()
        assert same(x, y)
    assert a.state_dict() == b.state_dict()
