"""Tests of catsmt.data.binarize: token arrays, batches built from them, and the cache."""

from __future__ import annotations

import random
import time

import numpy as np
import pytest

from catsmt.data.binarize import (
    TaskArrays,
    TokenArray,
    binarize,
    corpus_digest,
    files_digest,
    load_binarized,
)
from catsmt.data.corpus import Corpus
from catsmt.data.errors import DataError
from catsmt.data.packing import pack_rows
from catsmt.data.vocab import EOS_ID, PAD_ID, Vocab

WORDS = {
    "eng": ["the", "dog", "is", "red", "run", "and", "so", "at", "in", "we", "cat", "sun"],
    "aaa": ["kato", "rimu", "ne", "sa", "lopi", "mune", "ka", "tori"],
    "bbb": ["zor", "vexulm", "bra", "tikond", "yss", "ondbra"],
}


def lines(lang: str, rng: random.Random, n: int, longest: int = 12) -> list[str]:
    return [" ".join(rng.choices(WORDS[lang], k=rng.randint(1, longest))) for _ in range(n)]


def make_corpus(sizes: dict[str, int], seed: int = 0, longest: int = 12) -> Corpus:
    """An invented o2m corpus eng -> each language, with valid and test sets of 20 pairs."""
    rng = random.Random(seed)
    splits: dict[str, dict[str, tuple[list[str], list[str]]]] = {
        "train": {},
        "valid": {},
        "test": {},
    }
    for lang, n in sizes.items():
        for split, m in (("train", n), ("valid", 20), ("test", 20)):
            splits[split][lang] = (lines("eng", rng, m, longest), lines(lang, rng, m, longest))
    tasks = sorted(sizes)
    return Corpus(tasks=tasks, pairs={t: ("eng", t) for t in tasks}, splits=splits)


@pytest.fixture(scope="module")
def vocab(tmp_path_factory) -> Vocab:
    corpus = make_corpus({"aaa": 300, "bbb": 300})
    path = tmp_path_factory.mktemp("vocab") / "spm.model"
    return Vocab.train(path, corpus.splits["train"], ["eng", "aaa", "bbb"], vocab_size=120)


# -- arrays and batches ------------------------------------------------------------------
def test_token_array_round_trip():
    seqs = [[5, 6, 7], [8], [9, 10], [11, 12, 13, 14]]
    arr = TokenArray.from_lists(seqs)
    assert len(arr) == 4 and arr.lengths.tolist() == [3, 1, 2, 4]
    assert [arr[i].tolist() for i in range(4)] == seqs
    flat, lens = arr.gather(np.array([3, 0, 1]))
    assert flat.tolist() == [11, 12, 13, 14, 5, 6, 7, 8] and lens.tolist() == [4, 3, 1]


def test_batch_builds_decoder_input_and_output_from_the_target():
    src = TokenArray.from_lists([[4, 10, 11, EOS_ID], [4, 12, EOS_ID]])
    tgt = TokenArray.from_lists([[20, 21, 22], [23]])
    b = TaskArrays("aaa", src, tgt, tgt_tag=4, pad_id=PAD_ID, eos_id=EOS_ID).batch([0, 1])
    assert b.lang == "aaa" and b.pad_id == PAD_ID
    assert b.src.tolist() == [[4, 10, 11, EOS_ID], [4, 12, EOS_ID, PAD_ID]]
    assert b.tgt_in.tolist() == [[4, 20, 21, 22], [4, 23, PAD_ID, PAD_ID]]
    assert b.tgt_out.tolist() == [[20, 21, 22, EOS_ID], [23, EOS_ID, PAD_ID, PAD_ID]]
    assert b.n_tokens == 6 and b.n_sentences == 2


def test_packed_batch_holds_each_pair_as_one_segment_on_both_sides():
    src = TokenArray.from_lists([[4, 10, 11, EOS_ID], [4, 12, EOS_ID], [4, 13, 14, 15, 16, EOS_ID]])
    tgt = TokenArray.from_lists([[20, 21, 22], [23], [24, 25]])
    b = TaskArrays("aaa", src, tgt, tgt_tag=4, pad_id=PAD_ID, eos_id=EOS_ID).packed_batch([0, 1, 2], 6)
    # 22 tokens over both sides at about 6 a side: 2 rows; the longest pair (2) goes first, to
    # row 0, and fills it more than pair 0 fills row 1, so pair 1 joins pair 0
    assert b.src.tolist() == [[4, 13, 14, 15, 16, EOS_ID, PAD_ID], [4, 10, 11, EOS_ID, 4, 12, EOS_ID]]
    assert b.src_seg is not None and b.tgt_seg is not None
    assert b.src_seg.tolist() == [[1, 1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 2, 2, 2]]
    assert b.tgt_in.tolist() == [[4, 24, 25, PAD_ID, PAD_ID, PAD_ID], [4, 20, 21, 22, 4, 23]]
    assert b.tgt_out.tolist() == [[24, 25, EOS_ID, PAD_ID, PAD_ID, PAD_ID], [20, 21, 22, EOS_ID, 23, EOS_ID]]
    assert b.tgt_seg.tolist() == [[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 2, 2]]
    assert b.n_tokens == 9 and b.n_sentences == 3


@pytest.mark.parametrize("row_len", [8, 40, 1000])
def test_packed_batch_has_the_same_pairs_as_the_padded_one(row_len):
    rng = np.random.default_rng(5)
    n = 60
    src = TokenArray.from_lists([[4, 100 + i] + [7] * int(rng.integers(0, 20)) + [EOS_ID] for i in range(n)])
    tgt = TokenArray.from_lists([[8] * int(rng.integers(1, 25)) + [200 + i] for i in range(n)])
    arrays = TaskArrays("aaa", src, tgt, tgt_tag=4, pad_id=PAD_ID, eos_id=EOS_ID)
    idx = rng.permutation(n)[:45]
    padded, packed = arrays.batch(idx), arrays.packed_batch(idx, row_len)
    assert packed.n_tokens == padded.n_tokens and packed.n_sentences == padded.n_sentences == 45
    assert packed.src_seg is not None and packed.tgt_seg is not None
    pairs = {}
    for r in range(packed.src.shape[0]):
        for seg in range(1, int(packed.src_seg[r].max()) + 1):
            s = packed.src[r, packed.src_seg[r] == seg].tolist()
            t = packed.tgt_seg[r] == seg
            pairs[s[1] - 100] = (s, packed.tgt_in[r, t].tolist(), packed.tgt_out[r, t].tolist())
    assert sorted(pairs) == sorted(idx.tolist())
    for row, i in enumerate(idx.tolist()):
        keep_src, keep_tgt = padded.src[row] != PAD_ID, padded.tgt_out[row] != PAD_ID
        assert pairs[i] == (
            padded.src[row, keep_src].tolist(),
            padded.tgt_in[row, keep_tgt].tolist(),
            padded.tgt_out[row, keep_tgt].tolist(),
        )
    # padding only at the end of a row
    for seg in (packed.src_seg, packed.tgt_seg):
        assert ((seg[:, 1:] == 0) | (seg[:, :-1] != 0)).all()


def test_pack_rows_fills_rows_evenly_on_both_sides():
    """On tatoeba-like lengths, packed rows are >= 94% pairs' tokens at 1k-32k tokens."""
    rng = np.random.default_rng(0)
    for n, row_len in [(100, 128), (800, 128), (3000, 128), (800, 256)]:
        src = np.clip(np.round(rng.lognormal(np.log(10), 0.45, n)), 1, 100).astype(np.int64) + 2
        tgt = np.clip(np.round((src - 2) * rng.lognormal(0.05, 0.25, n)), 1, 100).astype(np.int64) + 1
        rows = pack_rows(src, tgt, row_len)
        n_rows = int(rows.max()) + 1
        assert sorted(set(rows.tolist())) == list(range(n_rows))  # no empty row
        width_src = np.bincount(rows, weights=src).max()
        width_tgt = np.bincount(rows, weights=tgt).max()
        assert (src.sum() + tgt.sum()) / (n_rows * (width_src + width_tgt)) >= 0.94
        assert np.array_equal(rows, pack_rows(src, tgt, row_len))  # deterministic


def test_pack_rows_gives_a_long_pair_a_row_of_its_own():
    rows = pack_rows(np.array([3, 3, 90, 3, 3]), np.array([2, 2, 80, 2, 2]), 50)
    assert (rows == rows[2]).sum() == 1


def test_binarized_sides_follow_the_contract(vocab, tmp_path):
    corpus = make_corpus({"aaa": 50, "bbb": 30})
    data = binarize(corpus, vocab, tmp_path, max_len=100, source_tag=True)
    assert data.tasks == ["aaa", "bbb"] and data.pairs["bbb"] == ("eng", "bbb")
    src_text, tgt_text = corpus.splits["valid"]["bbb"]
    arrays = data.data["valid"]["bbb"]
    tag = vocab.tag_id("bbb")
    for i in range(len(src_text)):
        assert arrays.src[i].tolist() == [tag, *vocab.encode(src_text[i]), EOS_ID]
        assert arrays.tgt[i].tolist() == vocab.encode(tgt_text[i])
    assert arrays.tgt_tag == tag
    assert arrays.src.tokens.dtype == np.uint16
    assert data.raw("valid", "bbb") == (src_text, tgt_text)
    batch = arrays.batch(np.arange(len(arrays)))
    assert (batch.tgt_in[:, 0] == tag).all()
    assert vocab.decode(batch.tgt_out[3]) == " ".join(tgt_text[3].split())


def test_without_source_tag_the_source_is_pieces_and_eos(vocab, tmp_path):
    corpus = make_corpus({"aaa": 10})
    data = binarize(corpus, vocab, tmp_path, max_len=100, source_tag=False)
    src_text = corpus.splits["train"]["aaa"][0]
    assert data.data["train"]["aaa"].src[0].tolist() == [*vocab.encode(src_text[0]), EOS_ID]


def test_long_training_pairs_are_skipped_and_counted(vocab, tmp_path):
    corpus = make_corpus({"aaa": 200, "bbb": 200}, longest=30)
    max_len = 20
    data = binarize(corpus, vocab, tmp_path, max_len=max_len, source_tag=True)
    for task in ("aaa", "bbb"):
        src, tgt = corpus.splits["train"][task]
        too_long = sum(
            max(len(vocab.encode(s)), len(vocab.encode(t))) > max_len
            for s, t in zip(src, tgt, strict=True)
        )
        assert too_long > 0
        assert data.skipped[task] == too_long
        assert len(data.data["train"][task]) == 200 - too_long
        assert (data.data["train"][task].tgt.lengths <= max_len).all()
        kept = data.kept(task).tolist()
        assert data.data["train"][task].tgt[0].tolist() == vocab.encode(tgt[kept[0]])
    assert len(data.data["valid"]["aaa"]) == 20  # only training pairs are filtered


def test_all_pairs_too_long_names_the_task(vocab, tmp_path):
    with pytest.raises(DataError, match="'aaa'.*max_len=1"):
        binarize(make_corpus({"aaa": 5}), vocab, tmp_path, max_len=1, source_tag=True)


# -- the cache ---------------------------------------------------------------------------
def test_second_call_loads_without_encoding(vocab, tmp_path, monkeypatch):
    corpus = make_corpus({"aaa": 400, "bbb": 100})
    first = binarize(corpus, vocab, tmp_path, max_len=100, source_tag=True)
    meta_mtime = (first.path / "meta.json").stat().st_mtime_ns
    calls = []
    monkeypatch.setattr(Vocab, "encode_many", lambda self, texts: calls.append(1) or [])
    start = time.perf_counter()
    second = binarize(corpus, vocab, tmp_path, max_len=100, source_tag=True)
    assert time.perf_counter() - start < 1.0
    assert calls == [] and second.path == first.path
    assert (second.path / "meta.json").stat().st_mtime_ns == meta_mtime
    for split in ("train", "valid", "test"):
        for task in ("aaa", "bbb"):
            a, b = first.data[split][task], second.data[split][task]
            assert np.array_equal(a.src.tokens, b.src.tokens)
            assert np.array_equal(a.tgt.offsets, b.tgt.offsets)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp")] == []


def test_cache_key_changes_with_every_input(vocab, tmp_path):
    corpus = make_corpus({"aaa": 50})
    base = binarize(corpus, vocab, tmp_path, max_len=100, source_tag=True).path
    assert binarize(corpus, vocab, tmp_path, max_len=99, source_tag=True).path != base
    assert binarize(corpus, vocab, tmp_path, max_len=100, source_tag=False).path != base
    corpus.splits["train"]["aaa"][1][0] += " ne"
    assert binarize(corpus, vocab, tmp_path, max_len=100, source_tag=True).path != base
    other = Vocab.train(
        tmp_path / "other.model", corpus.splits["train"], ["eng", "aaa", "bbb"], vocab_size=100
    )
    assert binarize(corpus, other, tmp_path, max_len=100, source_tag=True).path != base


def test_load_rejects_a_folder_that_is_not_an_entry(tmp_path):
    with pytest.raises(DataError, match="meta.json"):
        load_binarized(tmp_path)


def test_corpus_digest_sees_every_line():
    a, b = make_corpus({"aaa": 20}), make_corpus({"aaa": 20})
    assert corpus_digest(a) == corpus_digest(b)
    b.splits["test"]["aaa"][0][-1] += "x"
    assert corpus_digest(a) != corpus_digest(b)


def test_files_digest_follows_content_and_skips_cache_and_hidden(tmp_path):
    root = tmp_path / "corpus"
    (root / "sub").mkdir(parents=True)
    (root / "train.eng-aaa.eng").write_text("a\nb\n")
    (root / "sub" / "x.txt").write_text("x\n")
    cache = root / "cache"
    cache.mkdir()
    memo = cache / "files.json"
    first = files_digest(root, exclude=[cache], memo=memo)
    assert memo.is_file()
    (cache / "junk").write_text("ignored")
    (root / ".hidden").write_text("ignored")
    assert files_digest(root, exclude=[cache], memo=memo) == first
    (root / "sub" / "x.txt").write_text("y\n")
    assert files_digest(root, exclude=[cache], memo=memo) != first
    (root / "sub" / "x.txt").write_text("x\n")
    assert files_digest(root, exclude=[cache], memo=memo) == first


def test_files_digest_of_a_missing_directory_names_it(tmp_path):
    with pytest.raises(DataError, match="nowhere"):
        files_digest(tmp_path / "nowhere")


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 7, 50])
def test_lengths_read_from_the_offsets_file_in_blocks(tmp_path, monkeypatch, n):
    from catsmt.data import arrays

    monkeypatch.setattr(arrays, "_LENGTH_BLOCK", 3)  # blocks end anywhere
    offsets = np.cumsum(np.r_[0, np.random.default_rng(n).integers(0, 9, n)]).astype(np.int64)
    np.save(tmp_path / "off.npy", offsets)
    for lengths in (arrays.lengths_from_file(tmp_path / "off.npy"),
                    arrays.lengths_of(np.load(tmp_path / "off.npy", mmap_mode="r"))):
        assert lengths.dtype == np.int32 and lengths.tolist() == np.diff(offsets).tolist()
