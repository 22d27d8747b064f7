"""Tests of catsmt.data.recipes: the joint split, the output layout, and the four recipes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from catsmt.data.config import DataConfig
from catsmt.data.corpus import SPLITS, read_corpus
from catsmt.data.errors import DataError
from catsmt.data.recipes import (
    OPUS_SHA256,
    RECIPES,
    TATOEBA_DIRS,
    WMT_LANGS,
    build,
    clean_pairs,
    held_out_sizes,
    split_by_pivot,
    wmt_files,
)


def _find_mirror() -> Path | None:
    env = os.environ.get("CATSMT_MIRROR")
    path = Path(env) if env else (Path(__file__).parents[2] / ".." / "shared" / "mirror").resolve()
    return path if path.is_dir() else None


MIRROR = _find_mirror()
needs_mirror = pytest.mark.skipif(
    MIRROR is None, reason="offline mirror not found at ../shared/mirror and CATSMT_MIRROR unset"
)
TED_DATA = (
    MIRROR / "cindyxinyiwang/multv-nmt/92382b964ca6867f20f2a23831e03ff725a7512a/data"
    if MIRROR
    else None
)


def english_by_split(data: dict[str, dict[str, list[tuple[str, str]]]]) -> dict[str, set[str]]:
    """split -> English sentences of that split over all languages."""
    return {s: {e for splits in data.values() for _, e in splits[s]} for s in SPLITS}


def read_back(out: Path, direction: str = "o2m") -> dict[str, dict[str, list[tuple[str, str]]]]:
    """language -> split -> (x, English) pairs, read from a build with read_corpus."""
    corpus = read_corpus(DataConfig(dir=str(out), direction=direction))
    data: dict[str, dict[str, list[tuple[str, str]]]] = {lang: {} for lang in corpus.tasks}
    for split in SPLITS:
        for lang, (src, tgt) in corpus.splits[split].items():
            xs, engs = (tgt, src) if direction == "o2m" else (src, tgt)
            data[lang][split] = list(zip(xs, engs, strict=True))
    return data


# ---------------------------------------------------------------------------------------------
# The joint split by English sentence


def invented_pairs() -> dict[str, list[tuple[str, str]]]:
    """Three languages sharing many English sentences, some with two translations."""
    english = [f"sentence {i}" for i in range(400)]
    return {
        "small": [(f"s{i}", e) for i, e in enumerate(english[:60])],
        "mid": [(f"m{i}", e) for i, e in enumerate(english[30:230])]
        + [(f"m{i}'", e) for i, e in enumerate(english[30:50])],
        "big": [(f"b{i}", e) for i, e in enumerate(english[::1])],
    }


def test_split_by_pivot_never_trains_on_held_out_english():
    pairs = invented_pairs()
    sizes = {"small": (6, 12), "mid": (20, 40), "big": (30, 60)}
    data, dropped = split_by_pivot(pairs, sizes, seed=3)
    by_split = english_by_split(data)
    assert not by_split["train"] & (by_split["valid"] | by_split["test"])
    assert not by_split["valid"] & by_split["test"]
    for lang, splits in data.items():
        kept = [p for s in splits.values() for p in s]
        assert set(kept) <= set(pairs[lang]) and len(kept) == len(set(kept))
        assert len(kept) + dropped[lang] == len(pairs[lang])  # only reported drops are lost
    # the smallest language gets exactly its sizes (all translations stay together: >=)
    assert len(data["small"]["valid"]) == 6 and len(data["small"]["test"]) == 12
    assert dropped["small"] == 0
    for lang, (valid, test) in sizes.items():
        assert valid <= len(data[lang]["valid"]) <= valid + 1
        assert test <= len(data[lang]["test"]) <= test + 1


def test_split_by_pivot_is_deterministic_and_seeded():
    pairs = invented_pairs()
    sizes = {"small": (6, 12), "mid": (20, 40), "big": (30, 60)}
    assert split_by_pivot(pairs, sizes, seed=1) == split_by_pivot(pairs, sizes, seed=1)
    assert split_by_pivot(pairs, sizes, seed=1) != split_by_pivot(pairs, sizes, seed=2)


def test_held_out_sizes_shrink_for_small_languages():
    assert held_out_sizes(13000, 200, 500, 0.1, 0.2) == (200, 500)
    assert held_out_sizes(1015, 200, 500, 0.1, 0.2) == (101, 203)


def test_clean_pairs_drops_empty_and_duplicates_and_flattens_line_breaks():
    xs = ["a", "a", "", "b\x85c", "d"]
    engs = ["A", "A", "E", "B", "  "]
    pairs, counts = clean_pairs(xs, engs)
    assert pairs == [("a", "A"), ("b c", "B")]
    assert counts == {"lines": 5, "empty": 2, "duplicate": 1}


# ---------------------------------------------------------------------------------------------
# Registry and options


def test_registry_has_the_recipes_with_descriptions():
    assert list(RECIPES) == ["tatoeba-related", "tatoeba-ted8", "wmt-news", "synthetic", "ted"]
    assert all(r.description and "\n" not in r.description for r in RECIPES.values())


def test_unknown_recipe_and_options(tmp_path):
    with pytest.raises(DataError, match="valid recipes: tatoeba-related, tatoeba-ted8, wmt-news"):
        build("tatoeba", tmp_path / "out")
    with pytest.raises(DataError, match="did you mean 'sizes'"):
        build("synthetic", tmp_path / "out", size=[10])
    with pytest.raises(DataError, match="option 'valid' .* must be a int"):
        build("synthetic", tmp_path / "out", valid="10")
    with pytest.raises(DataError, match="unknown language 'xxx'"):
        build("tatoeba-related", tmp_path / "out", langs=["aze", "xxx"])
    with pytest.raises(DataError, match="needs the option source=DIR"):
        build("ted", tmp_path / "out")
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------------------------
# synthetic (no download)


SMALL = {"sizes": [300, 40], "valid": 20, "test": 30}


def test_synthetic_layout_both_directions_and_stats(tmp_path):
    stats = build("synthetic", tmp_path / "syn", **SMALL)
    assert stats["pairs"] == {
        "syna": {"train": 300, "valid": 20, "test": 30},
        "synb": {"train": 40, "valid": 20, "test": 30},
    }
    assert stats["groups"] == {"low": ["syna", "synb"], "high": []}
    assert json.loads((tmp_path / "syn" / "stats.json").read_text()) == stats
    o2m, m2o = read_back(tmp_path / "syn", "o2m"), read_back(tmp_path / "syn", "m2o")
    assert o2m == m2o  # the eng-x and x-eng files hold the same pairs
    for split in SPLITS:
        assert (tmp_path / "syn" / f"{split}.eng-synb.synb").is_file()
        assert (tmp_path / "syn" / f"{split}.synb-eng.eng").is_file()


def test_synthetic_is_a_learnable_function_and_holds_out_valid_test(tmp_path):
    build("synthetic", tmp_path / "syn", **SMALL)
    data = read_back(tmp_path / "syn")
    by_split = english_by_split(data)
    assert not by_split["train"] & (by_split["valid"] | by_split["test"])
    for splits in data.values():
        translation: dict[str, str] = {}
        for x, e in (p for s in splits.values() for p in s):
            assert 3 <= len(e.split()) <= 8 and len(x.split()) == len(e.split())
            assert translation.setdefault(e, x) == x  # one English sentence, one translation
        # word for word: each English word always maps to the same target word (as a bag)
        words = {w for e in translation for w in e.split()}
        assert len({x for x in translation.values() for x in x.split()}) == len(words)


def test_synthetic_is_deterministic(tmp_path):
    build("synthetic", tmp_path / "a", **SMALL)
    build("synthetic", tmp_path / "b", **SMALL)
    build("synthetic", tmp_path / "c", **SMALL, seed=2)
    files = sorted(p.name for p in (tmp_path / "a").iterdir() if p.name != "stats.json")
    assert all(
        (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files
    )
    assert (tmp_path / "a" / files[0]).read_bytes() != (tmp_path / "c" / files[0]).read_bytes()


# ---------------------------------------------------------------------------------------------
# The output directory: nothing overwritten silently


def test_refuses_a_foreign_non_empty_directory(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / "train.eng-xyz.eng").write_text("someone else's\n")
    with pytest.raises(DataError, match="not empty and is not a catsmt build"):
        build("synthetic", out, **SMALL)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "train.eng-xyz.eng"]
    assert (out / "train.eng-xyz.eng").read_text() == "someone else's\n"

    build("synthetic", out, overwrite=True, **SMALL)
    assert (out / "notes.txt").read_text() == "mine"  # other files are left alone
    assert not (out / "train.eng-xyz.eng").exists()  # stale corpus files are not
    assert read_corpus(DataConfig(dir=str(out))).tasks == ["syna", "synb"]


def test_refuses_a_build_of_another_recipe_but_rebuilds_its_own(tmp_path):
    out = tmp_path / "out"
    build("synthetic", out, **SMALL)
    stats = json.loads((out / "stats.json").read_text())
    stats["recipe"] = "tatoeba-related"
    (out / "stats.json").write_text(json.dumps(stats))
    before = (out / "train.eng-syna.syna").read_bytes()
    with pytest.raises(DataError, match="is a 'tatoeba-related' build"):
        build("synthetic", out, **SMALL)
    assert (out / "train.eng-syna.syna").read_bytes() == before

    stats["recipe"] = "synthetic"
    (out / "stats.json").write_text(json.dumps(stats))
    build("synthetic", out, sizes=[50], valid=5, test=5)  # same recipe: rebuilt in place
    assert read_corpus(DataConfig(dir=str(out))).tasks == ["syna"]  # synb's files are gone


# ---------------------------------------------------------------------------------------------
# ted


def test_ted_recipe_on_a_fixture(tmp_path):
    src = tmp_path / "ted"
    for split in ("train", "dev", "test"):
        (src / "aaa_eng").mkdir(parents=True, exist_ok=True)
        (src / "aaa_eng" / f"ted-{split}.orig.aaa").write_text(f"Aa {split}.\nAa two.\n")
        (src / "aaa_eng" / f"ted-{split}.orig.eng").write_text(f"Eng {split}.\nEng two.\n")
    stats = build("ted", tmp_path / "out", source=str(src))
    assert stats["pairs"] == {"aaa": {"train": 2, "valid": 2, "test": 2}}
    assert read_back(tmp_path / "out")["aaa"]["valid"][0] == ("Aa dev.", "Eng dev.")


def test_ted_recipe_bad_input_writes_nothing(tmp_path):
    src = tmp_path / "ted"
    (src / "aaa_eng").mkdir(parents=True)
    (src / "aaa_eng" / "ted-train.orig.aaa").write_text("Aa.\n\nAa three.\n")
    bad = src / "aaa_eng" / "ted-train.orig.eng"
    bad.write_text("Eng.\nEng two.\nEng three.\n")
    with pytest.raises(DataError, match=r"ted-train\.orig\.aaa:2: empty"):
        build("ted", tmp_path / "out", source=str(src))
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@needs_mirror
def test_ted_recipe_on_the_real_fragments(tmp_path):
    stats = build("ted", tmp_path / "out", source=str(TED_DATA))
    assert stats["pairs"]["aze"] == {"train": 5946, "valid": 671, "test": 903}
    assert stats["pairs"]["tur"]["train"] == 0 and stats["pairs"]["tur"]["test"] > 0
    assert not (tmp_path / "out" / "train.eng-tur.tur").exists()
    corpus = read_corpus(DataConfig(dir=str(tmp_path / "out"), langs=["aze"]))
    assert corpus.sizes("test") == {"aze": 903}


# ---------------------------------------------------------------------------------------------
# tatoeba-related and wmt-news, from the mirror


@pytest.fixture(scope="module")
def tatoeba(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("tatoeba")
    return out, build("tatoeba-related", out, mirror=MIRROR)


@needs_mirror
def test_tatoeba_builds_8_languages_in_both_directions(tatoeba):
    out, stats = tatoeba
    langs = sorted(TATOEBA_DIRS)
    assert stats["langs"] == langs
    assert stats["groups"] == {
        "low": ["aze", "bel", "glg", "ukr"],
        "high": ["ces", "por", "rus", "tur"],
    }
    assert json.loads((out / "stats.json").read_text()) == stats
    for lang in langs:
        for split in SPLITS:
            for name in (
                f"eng-{lang}.eng",
                f"eng-{lang}.{lang}",
                f"{lang}-eng.{lang}",
                f"{lang}-eng.eng",
            ):
                assert (out / f"{split}.{name}").is_file()
    pairs = stats["pairs"]
    assert pairs["ukr"]["train"] == 2500  # capped
    assert {pairs[lang]["valid"] for lang in langs if lang != "glg"} >= {200}
    assert 101 <= pairs["glg"]["valid"] < 110 and 203 <= pairs["glg"]["test"] < 215
    assert all(500 <= pairs[lang]["test"] < 510 for lang in langs if lang != "glg")
    assert pairs["rus"]["train"] > 15000 and pairs["glg"]["train"] > 600
    assert len(stats["sources"]) == 16


@needs_mirror
def test_tatoeba_no_valid_or_test_english_in_any_training_pair(tatoeba):
    out, _ = tatoeba
    for direction in ("o2m", "m2o"):
        data = read_back(out, direction)
        assert sorted(data) == sorted(TATOEBA_DIRS)
        by_split = english_by_split(data)
        assert len(by_split["test"]) > 3000 and len(by_split["train"]) > 50000
        assert not by_split["train"] & by_split["valid"]
        assert not by_split["train"] & by_split["test"]
        assert not by_split["valid"] & by_split["test"]
        for splits in data.values():  # and within each language: distinct pairs
            all_pairs = [p for s in splits.values() for p in s]
            assert len(all_pairs) == len(set(all_pairs))


@needs_mirror
def test_tatoeba_rebuild_reuses_downloads_and_is_identical(tatoeba):
    out, stats = tatoeba
    before = (out / "test.eng-bel.bel").read_bytes()
    assert build("tatoeba-related", out, mirror=MIRROR) == stats
    assert (out / "test.eng-bel.bel").read_bytes() == before


def test_wmt_table_covers_the_10_languages():
    for lang in WMT_LANGS:
        files = wmt_files(lang)
        assert files, lang
        for x_file, eng_file in files:
            assert eng_file in OPUS_SHA256 and x_file.rsplit("/", 2)[1] in (
                f"eng-{lang}",
                f"{lang}-eng",
            )


@needs_mirror
def test_wmt_news_small_languages(tmp_path):
    stats = build("wmt-news", tmp_path / "wmt", mirror=MIRROR, langs=["kaz", "est"])
    assert stats["pairs"]["est"] == {"train": 1400, "valid": 200, "test": 400}
    assert stats["groups"]["low"] == ["est", "kaz"]
    by_split = english_by_split(read_back(tmp_path / "wmt"))
    assert not by_split["train"] & (by_split["valid"] | by_split["test"])


@pytest.mark.slow
@needs_mirror
def test_wmt_news_all_languages(tmp_path):
    stats = build("wmt-news", tmp_path / "wmt", mirror=MIRROR)
    assert stats["langs"] == sorted(WMT_LANGS)
    assert stats["pairs"]["deu"]["train"] > 30000 and stats["pairs"]["kaz"]["train"] < 2000
    by_split = english_by_split(read_back(tmp_path / "wmt"))
    assert not by_split["train"] & (by_split["valid"] | by_split["test"])


@needs_mirror
def test_tatoeba_ted8_caps_training_only_and_keeps_the_held_out_sets(tatoeba, tmp_path):
    """tatoeba-ted8 = tatoeba-related with TED-8 related's imbalance: the caps cut training
    pairs only, so valid and test are those of tatoeba-related, sentence for sentence."""
    out = tmp_path / "ted8"
    build("tatoeba-ted8", out, mirror=MIRROR)
    ted8, related = read_back(out), read_back(tatoeba[0])
    sizes = {lang: len(splits["train"]) for lang, splits in ted8.items()}
    assert (sizes["aze"], sizes["bel"], sizes["ukr"]) == (500, 375, 5000)
    for lang in ted8:
        assert ted8[lang]["valid"] == related[lang]["valid"] and ted8[lang]["test"] == related[lang]["test"]
        n = min(len(ted8[lang]["train"]), len(related[lang]["train"]))  # ukr: 5,000 here, 2,500 there
        assert ted8[lang]["train"][:n] == related[lang]["train"][:n]
    assert min(sizes[h] for h in ("tur", "rus", "por", "ces")) / max(sizes[lo] for lo in ("aze", "bel")) > 20


def test_a_build_killed_while_writing_is_built_again_without_overwrite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Killed half-way through writing its files (no stats.json yet), the same `data get` runs
    again as if the folder were new; another recipe is still refused there."""
    from catsmt.data import recipes

    clean, out = tmp_path / "clean", tmp_path / "out"
    build("synthetic", clean, sizes=[50, 20], valid=5, test=5)
    real, calls = recipes.write_atomic, [0]

    def dies_on_the_fourth(path: object, content: object) -> None:
        calls[0] += 1
        if calls[0] == 4:
            raise KeyboardInterrupt  # what a kill leaves: three files written, the rest not
        real(path, content)  # type: ignore[arg-type]

    monkeypatch.setattr(recipes, "write_atomic", dies_on_the_fourth)
    with pytest.raises(KeyboardInterrupt):
        build("synthetic", out, sizes=[50, 20], valid=5, test=5)
    monkeypatch.undo()
    assert not (out / "stats.json").exists() and (out / ".catsmt-building").exists()
    with pytest.raises(DataError, match="not empty and is a 'synthetic' build"):
        build("tatoeba-related", out)
    build("synthetic", out, sizes=[50, 20], valid=5, test=5)
    files = sorted(p.name for p in clean.iterdir() if p.is_file())
    assert sorted(p.name for p in out.iterdir() if p.is_file()) == files
    assert all((out / f).read_bytes() == (clean / f).read_bytes() for f in files if f != "stats.json")
