"""Tests for catsmt.evaluation.scores: sacrebleu agreement, averages, input checks."""

from __future__ import annotations

import json
import random

import pytest
import sacrebleu

from catsmt.evaluation.scores import score_language, score_languages

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
]


def _sentences(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 12))) + "." for _ in range(n)]


def _noisy(refs: list[str], keep: float, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [
        " ".join(w if rng.random() < keep else rng.choice(WORDS) for w in ref.split())
        for ref in refs
    ]


GROUPS = {"aze": "low", "bel": "low", "glg": "low", "por": "high", "rus": "high"}


@pytest.fixture(scope="module")
def corpus() -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    refs = {lang: _sentences(30 + 5 * i, seed=i) for i, lang in enumerate(GROUPS)}
    hyps = {
        lang: _noisy(r, 0.4 + 0.1 * i, seed=100 + i) for i, (lang, r) in enumerate(refs.items())
    }
    return hyps, refs


def test_score_language_matches_sacrebleu(corpus):
    hyps, refs = corpus
    result = score_language(hyps["aze"], refs["aze"])
    assert result["bleu"] == sacrebleu.corpus_bleu(hyps["aze"], [refs["aze"]]).score
    assert result["chrf"] == sacrebleu.corpus_chrf(hyps["aze"], [refs["aze"]]).score
    assert result["n"] == len(refs["aze"])
    assert 0.0 < result["bleu"] < 100.0


def test_signatures_are_sacrebleus(corpus):
    hyps, refs = corpus
    result = score_language(hyps["aze"], refs["aze"])
    bleu = sacrebleu.BLEU()
    bleu.corpus_score(hyps["aze"], [refs["aze"]])
    assert result["signature"]["bleu"] == bleu.get_signature().format()
    assert "nrefs:1" in result["signature"]["bleu"] and "tok:13a" in result["signature"]["bleu"]
    assert result["signature"]["chrf"].startswith("nrefs:1|")


def test_perfect_hypotheses_score_100(corpus):
    _, refs = corpus
    result = score_language(refs["bel"], refs["bel"])
    assert result["bleu"] == pytest.approx(100.0)
    assert result["chrf"] == pytest.approx(100.0)


def test_score_languages_structure_and_averages(corpus):
    hyps, refs = corpus
    out = score_languages(hyps, refs, GROUPS, split="test", beam=5)
    assert (out["split"], out["beam"]) == ("test", 5)
    assert set(out) == {"split", "beam", "signature", "langs", "average"}
    assert list(out["langs"]) == list(GROUPS)
    for lang, entry in out["langs"].items():
        direct = score_language(hyps[lang], refs[lang])
        assert entry == {
            "bleu": direct["bleu"],
            "chrf": direct["chrf"],
            "n": len(refs[lang]),
            "group": GROUPS[lang],
        }
    assert set(out["average"]) == {"all", "low", "high"}  # no "mid": that group is empty
    for metric in ("bleu", "chrf"):
        values = {lang: out["langs"][lang][metric] for lang in GROUPS}
        low = [values[lang] for lang in ("aze", "bel", "glg")]
        high = [values[lang] for lang in ("por", "rus")]
        assert out["average"]["all"][metric] == pytest.approx(sum(values.values()) / 5)
        assert out["average"]["low"][metric] == pytest.approx(sum(low) / 3)
        assert out["average"]["high"][metric] == pytest.approx(sum(high) / 2)
    assert json.loads(json.dumps(out)) == out


def test_mid_group_average_when_present(corpus):
    hyps, refs = corpus
    groups = {**GROUPS, "glg": "mid"}
    out = score_languages(hyps, refs, groups, split="valid", beam=1)
    assert list(out["average"]) == ["all", "low", "mid", "high"]
    assert out["average"]["mid"]["bleu"] == out["langs"]["glg"]["bleu"]


def test_mismatched_lengths_name_the_language(corpus):
    hyps, refs = corpus
    bad = {**hyps, "bel": hyps["bel"][:-1]}
    with pytest.raises(ValueError, match=r"'bel'.*hypotheses but .* references"):
        score_languages(bad, refs, GROUPS, split="test", beam=5)
    with pytest.raises(ValueError, match="hypotheses but"):
        score_language(hyps["aze"][:3], refs["aze"])


def test_missing_or_unknown_language_is_named(corpus):
    hyps, refs = corpus
    missing = {lang: h for lang, h in hyps.items() if lang != "rus"}
    with pytest.raises(ValueError, match="'rus' is missing from hyps"):
        score_languages(missing, refs, GROUPS, split="test", beam=5)
    with pytest.raises(ValueError, match="'por' is missing from groups|'por' in .* not in groups"):
        score_languages(hyps, refs, {k: v for k, v in GROUPS.items() if k != "por"}, "test", 5)
    with pytest.raises(ValueError, match="'aze' is in group 'lo'"):
        score_languages(hyps, refs, {**GROUPS, "aze": "lo"}, split="test", beam=5)


def test_empty_input_is_rejected():
    with pytest.raises(ValueError, match="'xx': no sentences"):
        score_languages({"xx": []}, {"xx": []}, {"xx": "low"}, split="test", beam=5)
    with pytest.raises(ValueError, match="not a str"):
        score_language("a string", "another")
