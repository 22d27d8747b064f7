"""Tests of catsmt.data.corpus: the three layouts, the task directions, and every bad input."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from catsmt.data.config import DataConfig
from catsmt.data.corpus import iter_lines, read_corpus
from catsmt.data.errors import DataError


def _find_mirror() -> Path | None:
    env = os.environ.get("CATSMT_MIRROR")
    path = Path(env) if env else (Path(__file__).parents[2] / ".." / "shared" / "mirror").resolve()
    return path if path.is_dir() else None


MIRROR = _find_mirror()
TED_DATA = (
    MIRROR / "cindyxinyiwang/multv-nmt/92382b964ca6867f20f2a23831e03ff725a7512a/data"
    if MIRROR
    else None
)
needs_mirror = pytest.mark.skipif(
    MIRROR is None, reason="offline mirror not found at ../shared/mirror and CATSMT_MIRROR unset"
)

ENG = ["The dog sleeps.", "I like tea.", "It is cold."]
AAA = ["Dog aa sleepa.", "Aa likea tea.", "Aa colda."]
BBB = ["Bb dog bbsleep.", "Bb tea bblike.", "Bb bbcold."]


def write(path: Path, lines: list[str] | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        lines if isinstance(lines, bytes) else "".join(x + "\n" for x in lines).encode()
    )
    return path


def fairseq_dir(root: Path, pairs: dict[str, list[str]], splits=("train", "valid", "test")) -> Path:
    """Files {split}.eng-{x}.{eng,x} for each language x; sentences get the split as a suffix."""
    for x, lines in pairs.items():
        for split in splits:
            write(root / f"{split}.eng-{x}.eng", [f"{s} {split}" for s in ENG])
            write(root / f"{split}.eng-{x}.{x}", [f"{s} {split}" for s in lines])
    return root


def cfg(root: Path, **kw) -> DataConfig:
    return DataConfig(dir=str(root), **kw)


# ---------------------------------------------------------------------------------------------
# Layouts and directions


def test_fairseq_o2m_reads_every_language_and_split(tmp_path):
    fairseq_dir(tmp_path, {"aaa": AAA, "bbb": BBB})
    corpus = read_corpus(cfg(tmp_path))
    assert corpus.tasks == ["aaa", "bbb"]
    assert corpus.pairs == {"aaa": ("eng", "aaa"), "bbb": ("eng", "bbb")}
    src, tgt = corpus.splits["valid"]["bbb"]
    assert src[0] == "The dog sleeps. valid" and tgt[0] == "Bb dog bbsleep. valid"
    assert corpus.sizes("train") == {"aaa": 3, "bbb": 3}


def test_fairseq_m2o_swaps_sides_and_langs_selects(tmp_path):
    fairseq_dir(tmp_path, {"aaa": AAA, "bbb": BBB})
    corpus = read_corpus(cfg(tmp_path, direction="m2o", langs=["aaa"]))
    assert corpus.tasks == ["aaa"]
    assert corpus.pairs == {"aaa": ("aaa", "eng")}
    src, tgt = corpus.splits["train"]["aaa"]
    assert src == [f"{s} train" for s in AAA] and tgt == [f"{s} train" for s in ENG]


def test_fairseq_reads_pair_files_named_in_the_other_direction(tmp_path):
    for split in ("train", "valid"):
        write(tmp_path / f"{split}.aaa-eng.aaa", AAA)
        write(tmp_path / f"{split}.aaa-eng.eng", ENG)
    corpus = read_corpus(cfg(tmp_path, direction="o2m"))
    assert corpus.splits["train"]["aaa"] == (ENG, AAA)
    assert corpus.splits["test"] == {}  # test is optional


def test_fairseq_prefers_files_in_the_task_direction(tmp_path):
    write(tmp_path / "train.aaa-eng.aaa", AAA)
    write(tmp_path / "train.aaa-eng.eng", ENG)
    write(tmp_path / "train.eng-aaa.aaa", AAA[:2])
    write(tmp_path / "train.eng-aaa.eng", ENG[:2])
    o2m = read_corpus(cfg(tmp_path, direction="o2m"), required=("train",))
    m2o = read_corpus(cfg(tmp_path, direction="m2o"), required=("train",))
    assert o2m.sizes("train") == {"aaa": 2} and m2o.sizes("train") == {"aaa": 3}


def test_pairs_direction(tmp_path):
    for split in ("train", "valid"):
        write(tmp_path / f"{split}.aaa-bbb.aaa", AAA)
        write(tmp_path / f"{split}.aaa-bbb.bbb", BBB)
    corpus = read_corpus(cfg(tmp_path, direction="pairs", pairs=["bbb-aaa", "aaa-bbb"]))
    assert corpus.tasks == ["aaa-bbb", "bbb-aaa"]
    assert corpus.pairs["bbb-aaa"] == ("bbb", "aaa")
    assert corpus.splits["train"]["bbb-aaa"] == (BBB, AAA)
    with pytest.raises(DataError, match="not of the form src-tgt"):
        read_corpus(cfg(tmp_path, direction="pairs", pairs=["aaabbb"]))
    with pytest.raises(DataError, match=r"no data for pair 'aaa-ccc'.*found: aaa-bbb"):
        read_corpus(cfg(tmp_path, direction="pairs", pairs=["aaa-ccc"]))


def test_tsv_layout(tmp_path):
    for split in ("train", "valid"):
        lines = [f"{a}\t{e}" for a, e in zip(AAA, ENG, strict=True)]
        write(tmp_path / f"{split}.aaa-eng.tsv", lines)
    o2m = read_corpus(cfg(tmp_path, format="tsv"))
    m2o = read_corpus(cfg(tmp_path, format="tsv", direction="m2o"))
    assert o2m.splits["train"]["aaa"] == (ENG, AAA)
    assert m2o.splits["valid"]["aaa"] == (AAA, ENG)


@pytest.mark.parametrize(
    ("line", "message"),
    [("only one side", "expected 'source<TAB>target', found 0 tabs"),
     ("a\tb\tc", "found 2 tabs"),
     ("\tb", "empty source side"),
     ("a\t ", "empty target side")],
)  # fmt: skip
def test_tsv_bad_lines_name_file_and_line(tmp_path, line, message):
    path = write(tmp_path / "train.aaa-eng.tsv", ["x\ty", line])
    with pytest.raises(DataError, match=message) as e:
        read_corpus(cfg(tmp_path, format="tsv"))
    assert f"{path}:2:" in str(e.value)


def test_ted_layout_maps_dev_to_valid(tmp_path):
    for split in ("train", "dev"):
        write(tmp_path / "aaa_eng" / f"ted-{split}.orig.aaa", AAA)
        write(tmp_path / "aaa_eng" / f"ted-{split}.orig.eng", ENG)
    corpus = read_corpus(cfg(tmp_path, format="ted", direction="m2o"))
    assert corpus.splits["valid"]["aaa"] == (AAA, ENG)
    assert corpus.splits["test"] == {}


@needs_mirror
def test_ted_reader_on_the_real_fragments():
    corpus = read_corpus(cfg(TED_DATA, format="ted", langs=["aze"]))
    assert corpus.sizes("train") == {"aze": 5946}
    assert corpus.sizes("valid") == {"aze": 671}
    assert corpus.sizes("test") == {"aze": 903}
    src, tgt = corpus.splits["train"]["aze"]
    assert src[0].startswith("Please raise your hand") and tgt[0].startswith("Zəhmət")
    # tur_eng has dev and test only: fine for evaluation, not for training
    test_only = read_corpus(cfg(TED_DATA, format="ted"), required=("test",))
    assert test_only.tasks == ["aze", "tur"] and "tur" not in test_only.splits["train"]
    with pytest.raises(DataError, match=r"language 'tur' has no train set.*tur_eng/ted-train"):
        read_corpus(cfg(TED_DATA, format="ted"))


# ---------------------------------------------------------------------------------------------
# Line handling


def test_only_newline_and_cr_are_stripped(tmp_path):
    path = write(tmp_path / "f", "  a b \r\nc\x85d\u2028e\n\tf\t\n".encode())
    assert list(iter_lines(path)) == ["  a b ", "c\x85d\u2028e", "\tf\t"]


def test_last_line_without_newline(tmp_path):
    path = write(tmp_path / "f", b"a\nb")
    assert list(iter_lines(path)) == ["a", "b"]


# ---------------------------------------------------------------------------------------------
# Bad input: every error names the file and line, or the language


def test_mismatched_line_counts(tmp_path):
    fairseq_dir(tmp_path, {"aaa": AAA})
    tgt = write(tmp_path / "valid.eng-aaa.aaa", AAA + ["one more"])
    with pytest.raises(DataError) as e:
        read_corpus(cfg(tmp_path))
    message = str(e.value)
    assert "has 3 lines" in message and "has 4" in message and f"{tgt}:4" in message


@pytest.mark.parametrize("bad", ["", "   ", "\t", "\r"])
def test_empty_or_blank_line(tmp_path, bad):
    fairseq_dir(tmp_path, {"aaa": AAA})
    path = write(tmp_path / "train.eng-aaa.aaa", [AAA[0], AAA[1], bad, bad])
    with pytest.raises(DataError, match="empty or whitespace-only line") as e:
        read_corpus(cfg(tmp_path))
    assert f"{path}:3:" in str(e.value)  # the first bad line


def test_invalid_utf8(tmp_path):
    fairseq_dir(tmp_path, {"aaa": AAA})
    path = write(tmp_path / "test.eng-aaa.eng", b"fine\nalso fine\nbad \xff byte\n")
    with pytest.raises(DataError, match="invalid UTF-8") as e:
        read_corpus(cfg(tmp_path))
    assert f"{path}:3:" in str(e.value)


def test_empty_file(tmp_path):
    fairseq_dir(tmp_path, {"aaa": AAA})
    path = write(tmp_path / "valid.eng-aaa.aaa", b"")
    with pytest.raises(DataError, match=f"{path}: file is empty"):
        read_corpus(cfg(tmp_path))


def test_language_without_data_lists_what_was_found(tmp_path):
    fairseq_dir(tmp_path, {"aaa": AAA, "bbb": BBB})
    with pytest.raises(DataError, match=r"no data for language 'ccc'.*found: aaa, bbb"):
        read_corpus(cfg(tmp_path, langs=["aaa", "ccc"]))


def test_pivot_or_duplicate_in_langs(tmp_path):
    fairseq_dir(tmp_path, {"aaa": AAA})
    with pytest.raises(DataError, match="pivot 'eng'"):
        read_corpus(cfg(tmp_path, langs=["eng"]))
    with pytest.raises(DataError, match="'aaa' is listed twice"):
        read_corpus(cfg(tmp_path, langs=["aaa", "aaa"]))


def test_empty_directory(tmp_path):
    with pytest.raises(DataError, match="no corpus files for pivot 'eng'"):
        read_corpus(cfg(tmp_path))
    with pytest.raises(DataError, match="does not exist"):
        read_corpus(cfg(tmp_path / "nowhere"))


def test_missing_train(tmp_path):
    fairseq_dir(tmp_path, {"aaa": AAA}, splits=("valid", "test"))
    with pytest.raises(DataError, match=r"language 'aaa' has no train set.*train\.eng-aaa\.eng"):
        read_corpus(cfg(tmp_path))


def test_missing_valid_names_the_language(tmp_path):
    fairseq_dir(tmp_path, {"aaa": AAA})
    fairseq_dir(tmp_path, {"bbb": BBB}, splits=("train",))
    with pytest.raises(DataError, match=r"language 'bbb' has no valid set \(needed for training\)"):
        read_corpus(cfg(tmp_path))
    corpus = read_corpus(cfg(tmp_path), required=("train",))
    assert sorted(corpus.splits["valid"]) == ["aaa"]


def test_one_side_of_a_pair_missing(tmp_path):
    fairseq_dir(tmp_path, {"aaa": AAA})
    (tmp_path / "test.eng-aaa.aaa").unlink()
    with pytest.raises(
        DataError, match=r"test\.eng-aaa\.eng but not its other side .*test\.eng-aaa\.aaa"
    ):
        read_corpus(cfg(tmp_path))


def test_unrelated_files_are_ignored(tmp_path):
    fairseq_dir(tmp_path, {"aaa": AAA})
    write(tmp_path / "stats.json", ["{}"])
    write(tmp_path / "train.eng-aaa.eng.bin", b"\x00\xff")
    write(tmp_path / "dict.aaa.txt", ["x 1"])
    assert read_corpus(cfg(tmp_path)).tasks == ["aaa"]


def test_every_layout_is_a_config_choice_with_its_file_names_in_the_help() -> None:
    """data.format's choices, help and error all come from the one LAYOUTS registry."""
    import dataclasses

    from catsmt.config_fields import help_text
    from catsmt.data.config import DataConfig
    from catsmt.data.layouts import LAYOUTS

    help_ = help_text(next(f for f in dataclasses.fields(DataConfig) if f.name == "format"))
    for name, layout in LAYOUTS.items():
        DataConfig(format=name).validate()
        assert f"{name} ({layout.pattern})" in help_
    with pytest.raises(ValueError, match=", ".join(LAYOUTS)):
        DataConfig(format="moses").validate()
