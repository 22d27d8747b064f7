"""Property-based tests of the corpus readers on random bytes and random directory layouts.

Whatever is on disk, the readers either return a well-formed corpus or raise
:class:`~catsmt.data.errors.DataError` naming the file (and line) at fault; nothing else escapes.
The config loader is fuzzed the same way in ``tests/test_config.py``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from catsmt.data.config import DataConfig
from catsmt.data.corpus import SPLITS, read_corpus, read_lines, read_parallel, read_tsv
from catsmt.data.errors import DataError

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FUZZ_DIRS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Lines built from the pieces that trouble readers: tabs, CRs, blanks, characters that
# str.splitlines() would break on, invalid UTF-8, and ordinary words.
PIECES = st.sampled_from(
    [b"word", b"Satz", "\u0105\u017e".encode(), b" ", b"\t", b"\r", b"\x0b", b"\x0c",
     "\x85".encode(), "\u2028".encode(), b"\xff", b"\xc3", b"\x00", b"\xef\xbb\xbf"]
)
LINE = st.lists(PIECES, max_size=5).map(b"".join)
TEXT = st.one_of(
    st.binary(max_size=200),
    st.lists(LINE, max_size=6).map(b"\n".join),
    st.lists(LINE, max_size=6).map(lambda lines: b"".join(x + b"\n" for x in lines)),
)


def expected_lines(blob: bytes) -> list[bytes]:
    """The lines a reader must see: split on b"\\n" only, trailing CRs removed."""
    pieces = blob.split(b"\n")
    if pieces and pieces[-1] == b"":
        pieces.pop()
    return [p.rstrip(b"\r") for p in pieces]


def first_bad_line(blob: bytes) -> int | None:
    """1-based number of the first line that is invalid UTF-8 or blank, if any."""
    for i, raw in enumerate(expected_lines(blob), start=1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return i
        if not text.strip():
            return i
    return None


def write(directory: Path, name: str, blob: bytes) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(blob)
    return path


@FUZZ
@given(TEXT)
def test_read_lines_returns_the_lines_or_names_file_and_line(blob: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = write(Path(tmp), "train.eng-aaa.eng", blob)
        bad = first_bad_line(blob)
        try:
            lines = read_lines(path)
        except DataError as e:
            message = str(e)
            assert message.startswith(str(path)), message
            if bad is not None:
                assert message.startswith(f"{path}:{bad}:"), (message, bad)
            else:
                assert expected_lines(blob) == [] and "file is empty" in message
            return
        assert bad is None and lines
        assert [x.encode() for x in lines] == expected_lines(blob)
        assert all("\n" not in x and x.strip() for x in lines)


@FUZZ
@given(TEXT, TEXT)
def test_read_parallel_is_aligned_or_names_a_file(left: bytes, right: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        a = write(Path(tmp), "valid.aaa-bbb.aaa", left)
        b = write(Path(tmp), "valid.aaa-bbb.bbb", right)
        try:
            src, tgt = read_parallel(a, b)
        except DataError as e:
            assert str(a) in str(e) or str(b) in str(e), str(e)
            return
        assert len(src) == len(tgt) == len(expected_lines(left)) > 0


@FUZZ
@given(TEXT)
def test_read_tsv_splits_on_one_tab_or_names_file_and_line(blob: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = write(Path(tmp), "train.aaa-eng.tsv", blob)
        try:
            left, right = read_tsv(path)
        except DataError as e:
            assert str(e).startswith(str(path)), str(e)
            return
        lines = [x.decode() for x in expected_lines(blob)]
        assert [f"{a}\t{b}" for a, b in zip(left, right, strict=True)] == lines
        assert all(a.strip() and b.strip() and "\t" not in a + b for a, b in zip(left, right, strict=True))


# ---------------------------------------------------------------------------------------------
# Whole directories in each layout: names near and far from the patterns, random contents.

LANGS = ["eng", "aaa", "bbb", "x_y"]
SPLIT_NAMES = ["train", "valid", "test", "dev", "Train"]
GOOD = st.lists(st.sampled_from([b"one", b"two words", b"drei"]), min_size=1, max_size=3).map(
    lambda lines: b"".join(x + b"\n" for x in lines)
)
CONTENT = st.one_of(GOOD, GOOD, TEXT)  # mostly well formed, so that reading gets far


@st.composite
def fairseq_name(draw: st.DrawFn) -> str:
    split, a, b = draw(st.sampled_from(SPLIT_NAMES)), draw(st.sampled_from(LANGS)), draw(st.sampled_from(LANGS))
    side = draw(st.sampled_from([a, b, "zzz"]))
    return draw(st.sampled_from([f"{split}.{a}-{b}.{side}", f"{split}.{a}-{b}", f"{split}.{a}{b}.{side}"]))


@st.composite
def tsv_name(draw: st.DrawFn) -> str:
    split, a, b = draw(st.sampled_from(SPLIT_NAMES)), draw(st.sampled_from(LANGS)), draw(st.sampled_from(LANGS))
    return draw(st.sampled_from([f"{split}.{a}-{b}.tsv", f"{split}.{a}-{b}.txt"]))


@st.composite
def ted_name(draw: st.DrawFn) -> str:
    a, b = draw(st.sampled_from(LANGS)), draw(st.sampled_from(LANGS))
    split, side = draw(st.sampled_from(["train", "dev", "test", "valid"])), draw(st.sampled_from([a, b, "zzz"]))
    folder = draw(st.sampled_from([f"{a}_{b}", f"{a}-{b}"]))
    return f"{folder}/ted-{split}.orig.{side}"


def well_formed(fmt: str, langs: list[str], n: int) -> dict[str, bytes]:
    """A complete corpus of ``eng`` with ``langs``, ``n`` pairs per split."""
    lines = b"".join(b"sentence %d\n" % i for i in range(n))
    files: dict[str, bytes] = {}
    for x in langs:
        for split in ("train", "valid", "test"):
            if fmt == "fairseq":
                files[f"{split}.eng-{x}.eng"] = files[f"{split}.eng-{x}.{x}"] = lines
            elif fmt == "tsv":
                files[f"{split}.{x}-eng.tsv"] = lines.replace(b"\n", b"\tphrase\n")
            else:
                ted = "dev" if split == "valid" else split
                files[f"{x}_eng/ted-{ted}.orig.{x}"] = files[f"{x}_eng/ted-{ted}.orig.eng"] = lines
    return files


@st.composite
def layout(draw: st.DrawFn, fmt: str) -> tuple[dict[str, bytes], list[str]]:
    """Files (name -> bytes) and names to create as folders instead of files: a well-formed
    corpus, some of its files deleted, cut short or replaced, and stray files beside it."""
    names = {"fairseq": fairseq_name(), "tsv": tsv_name(), "ted": ted_name()}[fmt]
    langs = draw(st.lists(st.sampled_from(["aaa", "bbb"]), min_size=1, max_size=2, unique=True))
    files = well_formed(fmt, langs, draw(st.integers(1, 3)))
    for name in draw(st.lists(st.sampled_from(sorted(files)), max_size=2, unique=True)):
        change = draw(st.sampled_from(["delete", "cut", "replace"]))
        if change == "delete":
            del files[name]
        elif change == "cut":
            files[name] = files[name][: draw(st.integers(0, len(files[name]) - 1))]
        else:
            files[name] = draw(CONTENT)
    files.update(draw(st.dictionaries(names, CONTENT, max_size=3)))
    folders = draw(st.lists(names, max_size=2))
    return files, folders


@st.composite
def data_config(draw: st.DrawFn) -> dict[str, object]:
    direction = draw(st.sampled_from(["o2m", "m2o", "pairs"]))
    if direction == "pairs":
        some = ["eng-aaa", "aaa-eng", "bbb-eng", "aaa-bbb", "aaa-aaa", "aaa", "a-b-c", "-eng"]
        pairs = draw(st.lists(st.sampled_from(some), min_size=1, max_size=3))
        return {"direction": direction, "pairs": pairs}
    langs = draw(st.lists(st.sampled_from(LANGS), max_size=3))
    pivot = draw(st.sampled_from(["eng", "eng", "aaa"]))
    return {"direction": direction, "pivot": pivot, "langs": langs}


def check_random_directory(fmt: str, tree: tuple[dict[str, bytes], list[str]], options: dict[str, object]) -> None:
    files, folders = tree
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name, blob in files.items():
            write(root, name, blob)
        for name in folders:  # a folder where a corpus file could be
            if not (root / name).exists():
                (root / name).mkdir(parents=True)
        cfg = DataConfig(dir=tmp, format=fmt, **options)  # type: ignore[arg-type]
        try:
            cfg.validate()
        except ValueError:
            assume(False)
        try:
            corpus = read_corpus(cfg)
        except DataError as e:
            assert str(e) and "\n" not in str(e), repr(str(e))
            event("DataError")
            return
    event("read a corpus")
    assert corpus.tasks == sorted(corpus.tasks) == sorted(corpus.pairs)
    for task, (src_lang, tgt_lang) in corpus.pairs.items():
        assert src_lang != tgt_lang
        if cfg.direction == "o2m":
            assert (src_lang, tgt_lang) == (cfg.pivot, task)
        elif cfg.direction == "m2o":
            assert (src_lang, tgt_lang) == (task, cfg.pivot)
        else:
            assert task == f"{src_lang}-{tgt_lang}"
        for split in ("train", "valid"):
            assert task in corpus.splits[split]
    assert set(corpus.splits) == set(SPLITS)
    for by_task in corpus.splits.values():
        for src, tgt in by_task.values():
            assert len(src) == len(tgt) > 0
            assert all(x.strip() and "\n" not in x for x in src + tgt)


@FUZZ_DIRS
@given(layout("fairseq"), data_config())
def test_fairseq_directory_reads_or_raises_data_error(tree: tuple[dict[str, bytes], list[str]], options: dict[str, object]) -> None:
    check_random_directory("fairseq", tree, options)


@FUZZ_DIRS
@given(layout("tsv"), data_config())
def test_tsv_directory_reads_or_raises_data_error(tree: tuple[dict[str, bytes], list[str]], options: dict[str, object]) -> None:
    check_random_directory("tsv", tree, options)


@FUZZ_DIRS
@given(layout("ted"), data_config())
def test_ted_directory_reads_or_raises_data_error(tree: tuple[dict[str, bytes], list[str]], options: dict[str, object]) -> None:
    check_random_directory("ted", tree, options)
