"""Tests of catsmt.data.dataset: prepare_data end to end on a small invented fairseq corpus."""

from __future__ import annotations

import os
import random
import stat
import time
from pathlib import Path

import pytest
import torch

import catsmt.data.dataset as dataset
from catsmt.data import DataError, MultilingualData, Vocab, prepare_data
from catsmt.data.config import DataConfig

WORDS = {
    "eng": ["the", "dog", "is", "red", "run", "and", "so", "at", "in", "we", "cat", "sun"],
    "aaa": ["kato", "rimu", "ne", "sa", "lopi", "mune", "ka", "tori"],
    "bbb": ["zor", "vexulm", "bra", "tikond", "yss", "ondbra"],
    "ccc": ["quahel", "dim", "fop", "wen", "gar"],
}
SIZES = {"aaa": 600, "bbb": 200, "ccc": 60}


def write_corpus(root: Path, sizes: dict[str, int] = SIZES, seed: int = 0) -> Path:
    """fairseq layout: {split}.eng-{x}.{eng,x}."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    for lang, n in sizes.items():
        for split, m in (("train", n), ("valid", 25), ("test", 25)):
            for side in ("eng", lang):
                text = "".join(
                    " ".join(rng.choices(WORDS[side], k=rng.randint(1, 12))) + "\n"
                    for _ in range(m)
                )
                (root / f"{split}.eng-{lang}.{side}").write_text(text)
    return root


def config(root: Path, **kw) -> DataConfig:
    defaults = dict(
        vocab_size=150, vocab_sample=4000, max_tokens=512, langs_per_batch=2, low_threshold=100
    )
    return DataConfig(dir=str(root), **{**defaults, **kw})


@pytest.fixture
def calls(monkeypatch) -> dict[str, int]:
    """Counts corpus reads, vocabulary trainings and binarizations."""
    counts = {"read": 0, "train": 0, "binarize": 0}
    for name, module, attr in (
        ("read", dataset, "corpus_lines"),
        ("binarize", dataset, "binarize"),
    ):
        original = getattr(module, attr)

        def counted(*a, _name=name, _original=original, **kw):
            counts[_name] += 1
            return _original(*a, **kw)

        monkeypatch.setattr(module, attr, counted)
    original_train = Vocab.train.__func__

    def counted_train(cls, *a, **kw):
        counts["train"] += 1
        return original_train(cls, *a, **kw)

    monkeypatch.setattr(Vocab, "train", classmethod(counted_train))
    return counts


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> MultilingualData:
    return prepare_data(config(write_corpus(tmp_path_factory.mktemp("corpus"))))


def test_the_design_api(data):
    assert data.langs == ["aaa", "bbb", "ccc"]
    assert data.sizes("train") == SIZES
    assert data.sizes("valid") == {"aaa": 25, "bbb": 25, "ccc": 25}
    assert data.groups == {"aaa": "high", "bbb": "high", "ccc": "low"}
    assert data.pair("bbb") == ("eng", "bbb")
    assert data.vocab.langs == ["aaa", "bbb", "ccc", "eng"]
    assert data.skipped == {"aaa": 0, "bbb": 0, "ccc": 0}


def test_raw_and_encode_source_agree_with_the_files(data):
    src, tgt = data.raw("valid", "aaa")
    root = Path(data.cfg.dir)
    assert src == (root / "valid.eng-aaa.eng").read_text().splitlines()
    assert tgt == (root / "valid.eng-aaa.aaa").read_text().splitlines()
    train_src, _ = data.raw("train", "ccc")
    assert train_src == (root / "train.eng-ccc.eng").read_text().splitlines()
    encoded = data.encode_source(src[:3], "aaa")
    tag = data.vocab.tag_id("aaa")
    assert encoded == [[tag, *data.vocab.encode(s), data.vocab.eos_id] for s in src[:3]]


def test_validation_batches_cover_the_split_deterministically(data):
    batches = list(data.batches("valid", "bbb", max_tokens=100, max_sentences=8))
    assert sum(b.n_sentences for b in batches) == 25
    assert all(b.n_sentences <= 8 and b.lang == "bbb" for b in batches)
    again = list(data.batches("valid", "bbb", max_tokens=100, max_sentences=8))
    assert all(torch.equal(a.src, b.src) for a, b in zip(batches, again, strict=True))
    refs = sorted(data.raw("valid", "bbb")[1])
    hyps = sorted(data.vocab.decode(row) for b in batches for row in b.tgt_out)
    assert hyps == refs


def test_sampler_batches_decode_to_training_text(data):
    sampler = data.sampler({"aaa": 0.5, "bbb": 0.3, "ccc": 0.2}, seed=1)
    batch = sampler.next_batch()
    assert 1 <= len(batch.parts) <= data.cfg.langs_per_batch
    for part in batch.parts:
        refs = set(data.raw("train", part.lang)[1])
        assert all(data.vocab.decode(row) in refs for row in part.tgt_out)
        assert (part.src[:, 0] == data.vocab.tag_id(part.lang)).all()


def test_unknown_language_or_split_is_named(data):
    with pytest.raises(DataError, match="'zzz'.*aaa, bbb, ccc"):
        data.raw("valid", "zzz")
    with pytest.raises(DataError, match="'dev'.*splits: test, train, valid"):
        data.sizes("dev")
    with pytest.raises(DataError, match="zzz"):
        data.sampler({"zzz": 1.0}, seed=1)


def test_second_run_reads_nothing_and_is_fast(tmp_path, calls):
    cfg = config(write_corpus(tmp_path / "corpus"))
    first = prepare_data(cfg)
    assert calls == {"read": 1, "train": 1, "binarize": 1}
    start = time.perf_counter()
    second = prepare_data(cfg)
    assert time.perf_counter() - start < 1.0
    assert calls == {"read": 1, "train": 1, "binarize": 1}
    assert second.cache_path == first.cache_path
    assert second.vocab.digest == first.vocab.digest
    assert second.raw("test", "bbb") == first.raw("test", "bbb")


def test_changed_settings_or_files_invalidate_what_they_affect(tmp_path, calls):
    root = write_corpus(tmp_path / "corpus")
    base = prepare_data(config(root))
    shorter = prepare_data(config(root, max_len=8))  # same vocabulary, new arrays
    assert calls == {"read": 2, "train": 1, "binarize": 2}
    assert shorter.cache_path != base.cache_path and sum(shorter.skipped.values()) > 0
    smaller = prepare_data(config(root, vocab_size=60))  # new vocabulary, so new arrays
    assert smaller.vocab.size < base.vocab.size
    assert calls == {"read": 3, "train": 2, "binarize": 3}
    with (root / "train.eng-bbb.bbb").open("a") as f:
        f.write("zor bra\n")
    with (root / "train.eng-bbb.eng").open("a") as f:
        f.write("the dog\n")
    grown = prepare_data(config(root))
    assert calls == {"read": 4, "train": 3, "binarize": 4}
    assert grown.sizes("train")["bbb"] == SIZES["bbb"] + 1


def test_cache_dir_setting_and_m2o_direction(tmp_path):
    root = write_corpus(tmp_path / "corpus", {"aaa": 100, "bbb": 40})
    data = prepare_data(config(root, direction="m2o", cache_dir=str(tmp_path / "cache")))
    assert data.cache_path.parent == tmp_path / "cache"
    assert not (root / ".catsmt-cache").exists()
    assert data.pair("aaa") == ("aaa", "eng")
    part = next(data.batches("valid", "aaa", max_tokens=200))
    eng = data.vocab.tag_id("eng")
    assert (part.src[:, 0] == eng).all() and (part.tgt_in[:, 0] == eng).all()


def test_low_resource_list_is_checked(tmp_path):
    root = write_corpus(tmp_path / "corpus", {"aaa": 100, "bbb": 40})
    data = prepare_data(config(root, low_resource=["aaa"]))
    assert data.groups == {"aaa": "low", "bbb": "high"}
    with pytest.raises(DataError, match="low_resource lists xyz.*tasks: aaa, bbb"):
        prepare_data(config(root, low_resource=["xyz"]))


def test_missing_corpus_directory_is_named(tmp_path):
    with pytest.raises(DataError, match="nowhere"):
        prepare_data(config(tmp_path / "nowhere"))


def test_a_shared_data_folder_stays_group_writable(tmp_path: Path) -> None:
    """With a group's umask (0o002), the corpus that ``data get`` writes, its binarized cache
    and the vocabulary are group-readable and writable: not the 0600 of ``tempfile.mkstemp``
    (nor mkdtemp's 0700 folder), which shut a second user of the folder out with EACCES."""
    from catsmt.data.recipes import build

    previous = os.umask(0o002)
    try:
        out = tmp_path / "shared"
        build("synthetic", out, sizes=[60, 60], valid=6, test=6)
        data = prepare_data(config(out, vocab_size=100, low_threshold=10))
    finally:
        os.umask(previous)
    cache = out / ".catsmt-cache"
    vocab = list(cache.glob("spm-*.model"))
    entries = [p for p in cache.iterdir() if p.is_dir()]
    assert len(vocab) == 1 and len(entries) == 1 and data.vocab.size > 0
    assert list(entries[0].glob("*.tok.npy")) and (cache / "files.json").is_file()
    modes = {p: stat.S_IMODE(p.stat().st_mode) for p in [out, *out.rglob("*")]}
    files = {p: m for p, m in modes.items() if p.is_file()}
    folders = {p: m for p, m in modes.items() if p.is_dir()}
    assert {m for m in files.values()} == {0o664}, {str(p.relative_to(out)): oct(m) for p, m in files.items()}
    assert {m for m in folders.values()} == {0o775}, {str(p.relative_to(out)): oct(m) for p, m in folders.items()}


@pytest.mark.parametrize(("max_tokens", "max_sentences", "seed"),
                         [(1, 0, 0), (60, 0, 0), (200, 0, 3), (200, 5, 3), (10**6, 0, 1), ("exact", 0, 2)])
def test_sample_batch_is_the_largest_fitting_prefix_of_its_own_permutation(data, max_tokens, max_sentences, seed):
    import numpy as np

    costs = data._arrays("train", "bbb").costs
    order = np.random.default_rng(seed).permutation(len(costs))
    if max_tokens == "exact":  # a budget that 7 pairs fill to the token
        max_tokens = 7 * int(costs[order[:7]].max())
    k = 1  # brute force: the longest prefix whose padded size fits, capped, at least one pair
    for n in range(1, len(order) + 1):
        if n * int(costs[order[:n]].max()) <= max_tokens and (max_sentences == 0 or n <= max_sentences):
            k = n
    np_state, torch_state = np.random.get_state(), torch.get_rng_state()
    batch = data.sample_batch("train", "bbb", max_tokens, max_sentences, seed=seed)
    assert batch.n_sentences == k
    assert batch.lang == "bbb" and batch.src.shape[0] * batch.src.shape[1] <= max(max_tokens, int(costs.max()))
    train_tgt = data.raw("train", "bbb")[1]
    assert [data.vocab.decode(row) for row in batch.tgt_out] == [train_tgt[i] for i in order[:k]]
    # its own generator: the global RNGs are as they were, and the same call gives the same batch
    assert all(np.array_equal(a, b) for a, b in zip(np.random.get_state()[1:3], np_state[1:3], strict=True))
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert torch.equal(data.sample_batch("train", "bbb", max_tokens, max_sentences, seed=seed).src, batch.src)


def test_sample_batch_names_an_unknown_task(data):
    with pytest.raises(DataError, match="'zzz'"):
        data.sample_batch("train", "zzz", 100)


def test_sample_batches_are_disjoint_consecutive_prefixes_of_one_permutation(data):
    import numpy as np

    costs = data._arrays("train", "ccc").costs  # 60 pairs
    order = np.random.default_rng(4).permutation(len(costs))
    expected, rest = [], order
    while rest.size:  # brute force: each batch the longest fitting prefix of what is left
        k = max([n for n in range(1, len(rest) + 1) if n * int(costs[rest[:n]].max()) <= 90 and n <= 16] or [1])
        expected.append(rest[:k])
        rest = rest[k:]
    got = data.sample_batches("train", "ccc", 90, 16, seed=4, count=len(expected) + 3)  # more than there are
    train_tgt = data.raw("train", "ccc")[1]
    assert [[data.vocab.decode(r) for r in b.tgt_out] for b in got] == [[train_tgt[i] for i in idx] for idx in expected]
    assert torch.equal(got[0].src, data.sample_batch("train", "ccc", 90, 16, seed=4).src)
    assert len(data.sample_batches("train", "ccc", 90, 16, seed=4, count=2)) == 2
