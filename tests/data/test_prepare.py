"""``check_corpus``: a corpus folder checked as training reads it, every problem reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from catsmt.config_fields import from_dict
from catsmt.data.config import DataConfig
from catsmt.data.corpus import read_corpus
from catsmt.data.errors import DataError
from catsmt.data.prepare import check_corpus


def write_tsv(folder: Path, name: str, n: int, start: int = 0) -> Path:
    """``n`` numbered ``left<TAB>right`` lines."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("".join(f"l{start + i} a\tr{start + i} b\n" for i in range(n)), encoding="utf-8")
    return path


def two_letter_corpus(folder: Path) -> Path:
    """A user's TSV corpus: en with be and ru; ru has no test split."""
    for pair, sizes in {"en-be": (30, 5, 4), "en-ru": (20, 3, 0)}.items():
        for split, n in zip(("train", "valid", "test"), sizes, strict=True):
            if n:
                write_tsv(folder, f"{split}.{pair}.tsv", n)
    return folder


def test_counts_pairs_and_infers_the_layout_and_a_two_letter_pivot(tmp_path: Path) -> None:
    check = check_corpus(two_letter_corpus(tmp_path / "c"))
    assert check.ok, check.problems
    assert (check.format, check.pivot, check.direction) == ("tsv", "en", "o2m")
    assert check.languages == ["be", "en", "ru"]
    counts = {pair: {s: c.pairs for s, c in splits.items()} for pair, splits in check.found.items()}
    assert counts == {("en", "be"): {"train": 30, "valid": 5, "test": 4}, ("en", "ru"): {"train": 20, "valid": 3}}
    assert check.tasks == {"be": ("en", "be"), "ru": ("en", "ru")}
    assert [n for n in check.notes if "'ru' has no test split" in n and "test.en-ru.tsv" in n]
    table = check.table()
    assert [line.split() for line in table.splitlines()][2:4] == [["en-be", "30", "5", "4"], ["en-ru", "20", "3", "-"]]
    assert "training tasks (o2m, pivot 'en'): en->be, en->ru" in table


def test_its_data_section_reads_the_same_corpus_as_training(tmp_path: Path) -> None:
    check = check_corpus(two_letter_corpus(tmp_path / "c"))
    cfg = from_dict(DataConfig, check.data_section(), "data")
    corpus = read_corpus(cfg)
    for split in ("train", "valid"):
        assert corpus.sizes(split) == {task: check.found[check.tasks[task]][split].pairs for task in check.tasks}


def test_every_problem_at_once_each_naming_its_file_and_line(tmp_path: Path) -> None:
    folder = two_letter_corpus(tmp_path / "c")
    (folder / "train.en-be.tsv").write_bytes(b"ok\tok\nbad \xff\tline\n")
    (folder / "valid.en-ru.tsv").write_text("no tab here\n", encoding="utf-8")
    write_tsv(folder, "train.en-uk.tsv", 5)  # no valid split
    with pytest.raises(DataError):  # training stops at the first of them
        read_corpus(from_dict(DataConfig, check_corpus(folder).data_section(), "data"))
    check = check_corpus(folder)
    assert not check.ok
    assert len(check.problems) == 3, check.problems
    utf8, tab, valid = sorted(check.problems, key=lambda p: ("train.en-be" not in p, "valid.en-ru" not in p))
    assert f"{folder / 'train.en-be.tsv'}:2: invalid UTF-8" in utf8
    assert f"{folder / 'valid.en-ru.tsv'}:1:" in tab and "tabs" in tab
    assert "language 'uk' has no valid split" in valid and "valid.en-uk.tsv" in valid
    assert check.found[("en", "be")]["train"].error and "error" in check.table()


def test_fairseq_sides_of_unequal_length_and_a_missing_side(tmp_path: Path) -> None:
    folder = tmp_path / "c"
    folder.mkdir()
    for split, n in (("train", 6), ("valid", 2)):
        (folder / f"{split}.eng-deu.eng").write_text("x\n" * n)
        (folder / f"{split}.eng-deu.deu").write_text("y\n" * n)
    (folder / "valid.eng-deu.deu").write_text("y\n" * 3)
    (folder / "train.eng-fra.eng").write_text("x\n")  # its .fra is missing
    check = check_corpus(folder)
    assert check.format == "fairseq" and check.pivot == "eng"
    assert any("has 2 lines but" in p and "has 3" in p for p in check.problems), check.problems
    assert any("not its other side" in p and "train.eng-fra.fra" in p for p in check.problems)
    assert check.found[("eng", "deu")]["train"].pairs == 6


def test_a_pivot_that_no_pair_has_names_the_one_they_share(tmp_path: Path) -> None:
    check = check_corpus(two_letter_corpus(tmp_path / "c"), pivot="eng")
    assert len(check.problems) == 1
    assert "no corpus files for pivot 'eng'" in check.problems[0]
    assert "the files use 'en' in every pair: set data.pivot=en" in check.problems[0]


def test_the_wrong_layout_names_the_one_the_folder_holds(tmp_path: Path) -> None:
    check = check_corpus(two_letter_corpus(tmp_path / "c"), fmt="fairseq")
    assert check.problems == [
        f"no corpus files in {tmp_path / 'c'} (fairseq layout); it holds files in the tsv "
        "layout: pass --format tsv (data.format=tsv)"
    ]
    empty = tmp_path / "empty"
    empty.mkdir()
    (problem,) = check_corpus(empty).problems
    assert "train.xx-yy.tsv" in problem and "xx_yy/ted-train.orig.xx" in problem


def test_pairs_direction_takes_every_pair_as_named_and_notes_the_unused(tmp_path: Path) -> None:
    folder = tmp_path / "c"
    for pair in ("de-fr", "it-es"):
        for split in ("train", "valid"):
            write_tsv(folder, f"{split}.{pair}.tsv", 4)
    everything = check_corpus(folder, direction="pairs")
    assert everything.ok and everything.pairs == ["de-fr", "it-es"] and everything.pivot == ""
    assert everything.data_section()["pairs"] == ["de-fr", "it-es"] and "pivot" not in everything.data_section()
    one = check_corpus(folder, direction="pairs", pairs=["fr-de"])
    assert one.ok and one.tasks == {"fr-de": ("fr", "de")}
    assert one.notes[-1] == "pairs not used (not listed in --pairs): it-es"
    no_pivot = check_corpus(folder)  # o2m: no language in every pair
    assert not no_pivot.ok and "share no language" in no_pivot.problems[0]


def test_a_missing_folder_and_bad_names_raise(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        check_corpus(tmp_path / "nope")
    with pytest.raises(DataError, match="format must be one of fairseq, tsv, ted"):
        check_corpus(tmp_path, fmt="csv")


def test_checking_a_folder_streams_it_and_holds_no_list_of_its_lines(tmp_path, monkeypatch):
    """`catsmt prepare` on an OPUS-size folder must not read it into memory: the list readers
    are never called, and a bad line is still found and named."""
    from catsmt.data import layouts
    from catsmt.data.prepare import check_corpus

    def no_lists(*a, **kw):
        raise AssertionError("check_corpus read a whole file into a list")

    monkeypatch.setattr(layouts, "read_parallel", no_lists)  # what Source.read calls
    monkeypatch.setattr(layouts, "read_tsv", no_lists)
    for split in ("train", "valid"):
        (tmp_path / f"{split}.eng-aaa.eng").write_text("a b\nc d\n")
        (tmp_path / f"{split}.eng-aaa.aaa").write_text("x y\nz w\n")
    (tmp_path / "train.eng-bbb.eng").write_text("a\n\n")
    (tmp_path / "train.eng-bbb.bbb").write_text("x\ny\n")
    check = check_corpus(tmp_path)
    assert check.found[("eng", "aaa")]["train"].pairs == 2
    assert any("train.eng-bbb.eng:2: empty" in p for p in check.problems), check.problems
