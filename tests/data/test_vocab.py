"""Tests of catsmt.data.vocab: the shared SentencePiece model, its fixed ids and language tags."""

from __future__ import annotations

import random
from collections import Counter

import pytest
import torch

from catsmt.data.errors import DataError
from catsmt.data.vocab import BOS_ID, EOS_ID, PAD_ID, UNK_ID, Vocab, vocab_sample

SYLLABLES = {
    "eng": ["the", "dog", "is", "red", "run", "and", "so", "at", "in", "we"],
    "aaa": ["ka", "to", "ri", "mu", "ne", "sa", "lo", "pi"],
    "bbb": ["zor", "vex", "ulm", "bra", "tik", "ond", "yss"],
    "ccc": ["qua", "hel", "dim", "fop", "wen", "gar"],
}


def lexicon(lang: str, rng: random.Random, n: int = 60) -> list[str]:
    syl = SYLLABLES[lang]
    return ["".join(rng.choices(syl, k=rng.randint(1, 3))) for _ in range(n)]


def sentences(words: list[str], rng: random.Random, n: int) -> list[str]:
    out = []
    for _ in range(n):
        s = " ".join(rng.choices(words, k=rng.randint(2, 10)))
        out.append(s[0].upper() + s[1:] + rng.choice([".", "?", "!"]))
    return out


def o2m_pairs(sizes: dict[str, int], seed: int = 0) -> dict[str, tuple[list[str], list[str]]]:
    """An invented eng -> xxx training split with ``sizes[xxx]`` pairs."""
    rng = random.Random(seed)
    eng = lexicon("eng", rng)
    return {
        lang: (sentences(eng, rng, n), sentences(lexicon(lang, rng), rng, n))
        for lang, n in sizes.items()
    }


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    pairs = o2m_pairs({"aaa": 800, "bbb": 300, "ccc": 60})
    path = tmp_path_factory.mktemp("vocab") / "spm.model"
    vocab = Vocab.train(path, pairs, ["eng", "aaa", "bbb", "ccc"], vocab_size=400, sample_size=3000)
    return vocab, path, pairs


def test_special_ids_are_fixed(trained):
    vocab, _, _ = trained
    assert (vocab.pad_id, vocab.unk_id, vocab.bos_id, vocab.eos_id) == (0, 1, 2, 3)
    assert (PAD_ID, UNK_ID, BOS_ID, EOS_ID) == (0, 1, 2, 3)


def test_every_language_has_a_distinct_tag(trained):
    vocab, _, _ = trained
    ids = [vocab.tag_id(lang) for lang in ["aaa", "bbb", "ccc", "eng"]]
    assert len(set(ids)) == 4
    assert all(EOS_ID < i < vocab.size for i in ids)
    assert vocab.langs == ["aaa", "bbb", "ccc", "eng"]


def test_unknown_language_tag_is_a_clear_error(trained):
    vocab, _, _ = trained
    with pytest.raises(DataError, match=r"'deu'.*aaa, bbb, ccc, eng"):
        vocab.tag_id("deu")


def test_round_trip_of_invented_sentences(trained):
    vocab, _, pairs = trained
    texts = {"eng": pairs["aaa"][0], **{lang: pairs[lang][1] for lang in ("aaa", "bbb", "ccc")}}
    rng = random.Random(123)
    for lang, lines in texts.items():
        words = sorted({w for line in lines for w in line[:-1].lower().split()})
        for s in sentences(words, rng, 20):  # new combinations of known words
            ids = vocab.encode(s)
            assert UNK_ID not in ids, (lang, s)
            assert vocab.decode(ids) == s


def test_decode_stops_at_eos_and_drops_pad_and_tags(trained):
    vocab, _, _ = trained
    s = "Kato rimu ne."
    ids = [vocab.tag_id("aaa"), *vocab.encode(s), EOS_ID, *vocab.encode("Sa lo."), PAD_ID]
    assert vocab.decode(ids) == s
    assert vocab.decode([PAD_ID, BOS_ID, *vocab.encode(s), PAD_ID, PAD_ID]) == s
    assert vocab.decode(torch.tensor(ids)) == s


def test_encode_many_equals_encode(trained):
    vocab, _, pairs = trained
    lines = pairs["bbb"][1][:50]
    assert vocab.encode_many(lines) == [vocab.encode(x) for x in lines]
    assert vocab.encode_many([]) == []


def test_load_gives_the_same_vocabulary(trained):
    vocab, path, pairs = trained
    loaded = Vocab.load(path)
    assert loaded.digest == vocab.digest and loaded.size == vocab.size
    assert loaded.encode(pairs["aaa"][0][0]) == vocab.encode(pairs["aaa"][0][0])
    assert loaded.tag_id("ccc") == vocab.tag_id("ccc")


def test_training_is_deterministic(tmp_path):
    pairs = o2m_pairs({"aaa": 200, "bbb": 50})
    a = Vocab.train(
        tmp_path / "a.model", pairs, ["eng", "aaa", "bbb"], vocab_size=150, sample_size=500
    )
    b = Vocab.train(
        tmp_path / "b.model", pairs, ["eng", "aaa", "bbb"], vocab_size=150, sample_size=500
    )
    assert a.digest == b.digest


def test_vocab_size_above_what_the_corpus_supports_is_not_an_error(tmp_path):
    pairs = o2m_pairs({"aaa": 40})
    for model_type in ("unigram", "bpe"):
        vocab = Vocab.train(
            tmp_path / f"{model_type}.model",
            pairs,
            ["eng", "aaa"],
            vocab_size=8000,
            model_type=model_type,
        )
        assert 4 + 2 < vocab.size < 8000


def test_vocab_size_below_the_alphabet_names_the_setting(tmp_path):
    with pytest.raises(DataError, match="vocab_size=8"):
        Vocab.train(tmp_path / "x.model", o2m_pairs({"aaa": 40}), ["eng", "aaa"], vocab_size=8)


def test_load_of_a_missing_file_names_it(tmp_path):
    with pytest.raises(DataError, match="nope.model"):
        Vocab.load(tmp_path / "nope.model")


# -- the temperature-balanced training sample ------------------------------------------
def _per_task(sample: list[str], pairs: dict[str, tuple[list[str], list[str]]]) -> Counter[str]:
    owner = {line: task for task, (src, tgt) in pairs.items() for line in tgt}
    return Counter(owner[line] for line in sample if line in owner)


def test_sample_is_deterministic_given_the_seed():
    pairs = o2m_pairs({"aaa": 500, "bbb": 100})
    assert vocab_sample(pairs, 400, 5.0, seed=1) == vocab_sample(pairs, 400, 5.0, seed=1)
    assert vocab_sample(pairs, 400, 5.0, seed=1) != vocab_sample(pairs, 400, 5.0, seed=2)


def test_sample_temperature_one_is_proportional_and_inf_uniform():
    pairs = o2m_pairs({"aaa": 900, "bbb": 300})
    proportional = _per_task(vocab_sample(pairs, 800, 1.0, seed=0), pairs)
    assert proportional == {"aaa": 300, "bbb": 100}  # 400 pairs split 3:1, both sides kept
    uniform = _per_task(vocab_sample(pairs, 800, float("inf"), seed=0), pairs)
    assert uniform == {"aaa": 200, "bbb": 200}


def test_sample_upsamples_small_tasks_and_is_capped_by_the_corpus():
    pairs = o2m_pairs({"aaa": 900, "bbb": 30})
    sample = vocab_sample(pairs, 10**6, float("inf"), seed=0)
    assert len(sample) == 2 * 930  # never more sentences than the corpus holds
    counts = _per_task(sample, pairs)
    assert counts["aaa"] == counts["bbb"] == 465  # bbb's 30 pairs repeated
