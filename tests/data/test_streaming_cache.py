"""The streamed, parallel cache against a one-shot cache written here from the contract.

The oracle reads each file with plain Python, encodes every line with SentencePiece one at a
time, drops the training pairs the contract drops, and ``np.save`` s the whole arrays; the
cache that ``prepare_data`` builds in small chunks over two worker processes must be the
same bytes. A build killed (SIGKILL) half-way through and run again must give the same cache
too, and leave none of the killed build's temporary files behind.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import signal
from pathlib import Path

import numpy as np
import pytest
import sentencepiece as spm

from catsmt.data import binarize as binarize_module
from catsmt.data import lines as lines_module
from catsmt.data import prepare_data
from catsmt.data.config import DataConfig
from catsmt.data.vocab import EOS_ID

WORDS = {
    "eng": ["the", "dog", "is", "red", "run", "and", "so", "at", "in", "we", "cat", "sun"],
    "aaa": ["kato", "rimu", "ne", "sa", "lopi", "mune", "ka", "tori"],
    "bbb": ["zor", "vexulm", "bra", "tikond", "yss", "ondbra"],
}
MAX_LEN = 12


def write_corpus(root: Path) -> Path:
    """fairseq layout; some training lines too long for MAX_LEN; one side with CRLF endings."""
    rng = random.Random(7)
    root.mkdir(parents=True)
    for lang, n in (("aaa", 230), ("bbb", 61)):
        for split, m in (("train", n), ("valid", 17), ("test", 9)):
            for side in ("eng", lang):
                end = "\r\n" if (lang, side) == ("bbb", "bbb") else "\n"
                lines = [" ".join(rng.choices(WORDS[side], k=rng.choice([1, 3, 6, 9, 20]))) for _ in range(m)]
                (root / f"{split}.eng-{lang}.{side}").write_text("".join(x + end for x in lines), newline="")
    return root


def config(root: Path, cache: Path, workers: int) -> DataConfig:
    return DataConfig(dir=str(root), cache_dir=str(cache), vocab_size=120, vocab_sample=3000,
                      max_len=MAX_LEN, workers=workers)


def npy(values: list[int], dtype: object) -> bytes:
    out = io.BytesIO()
    np.save(out, np.asarray(values, dtype=dtype))
    return out.getvalue()


def read_side(path: Path) -> list[str]:
    """A file's lines: split on \\n, the last (empty) piece dropped, trailing CR removed."""
    return [x.rstrip("\r") for x in path.read_bytes().decode().split("\n")[:-1]]


def oracle(root: Path, model: Path) -> dict[str, bytes]:
    """The cache entry's array and text files, as the binarize docstring defines them."""
    sp = spm.SentencePieceProcessor(model_file=str(model))
    tag = {lang: sp.piece_to_id(f"<2{lang}>") for lang in ("aaa", "bbb")}
    files: dict[str, bytes] = {}
    for lang in ("aaa", "bbb"):
        for split in ("train", "valid", "test"):
            src_text = read_side(root / f"{split}.eng-{lang}.eng")
            tgt_text = read_side(root / f"{split}.eng-{lang}.{lang}")
            src = [sp.encode(x) for x in src_text]
            tgt = [sp.encode(x) for x in tgt_text]
            kept = list(range(len(src)))
            if split == "train":
                kept = [i for i in kept if 0 < len(src[i]) <= MAX_LEN and 0 < len(tgt[i]) <= MAX_LEN]
                files[f"train.{lang}.keep.npy"] = npy(kept, np.int64)
            else:
                files[f"{split}.{lang}.raw.json"] = json.dumps([src_text, tgt_text], ensure_ascii=False).encode()
            for side, seqs in (("src", [[tag[lang]] + src[i] + [EOS_ID] for i in kept]),
                               ("tgt", [tgt[i] for i in kept])):
                files[f"{split}.{lang}.{side}.tok.npy"] = npy([t for s in seqs for t in s], np.uint16)
                files[f"{split}.{lang}.{side}.off.npy"] = npy(np.cumsum([0] + [len(s) for s in seqs]).tolist(), np.int64)
    return files


def entry_files(cache: Path) -> dict[str, bytes]:
    (entry,) = cache.glob("data-*")
    return {p.name: p.read_bytes() for p in entry.iterdir() if p.name != "meta.json"}


def digest(cache: Path) -> dict[str, str]:
    return {str(p.relative_to(cache)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(cache.rglob("*")) if p.is_file() and p.name != "files.json"}


def test_streamed_parallel_cache_equals_the_one_shot_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_corpus(tmp_path / "corpus")
    monkeypatch.setattr(lines_module, "CHUNK_LINES", 16)  # 2-15 chunks a split
    monkeypatch.setattr(lines_module, "BLOCK_BYTES", 100)
    data = prepare_data(config(root, tmp_path / "two", workers=2))
    (model,) = (tmp_path / "two").glob("spm-*.model")
    expected = oracle(root, model)
    assert entry_files(tmp_path / "two") == expected
    assert data.skipped["aaa"] > 0 and data.sizes("train")["aaa"] == 230 - data.skipped["aaa"]

    monkeypatch.setattr(lines_module, "CHUNK_LINES", 50_000)  # one chunk a split, in-process
    prepare_data(config(root, tmp_path / "one", workers=1))
    assert digest(tmp_path / "one") == digest(tmp_path / "two")


def test_a_build_killed_half_way_reruns_to_the_same_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_corpus(tmp_path / "corpus")
    monkeypatch.setattr(lines_module, "CHUNK_LINES", 16)
    prepare_data(config(root, tmp_path / "clean", workers=2))

    cache = tmp_path / "killed"
    pid = os.fork()
    if pid == 0:  # the child: SIGKILLed in the middle of writing the arrays
        try:
            written = [0]
            original = binarize_module._SideWriter.append

            def append_then_die(self: object, *a: object) -> None:
                original(self, *a)
                written[0] += 1
                if written[0] == 9:
                    os.kill(os.getpid(), signal.SIGKILL)

            binarize_module._SideWriter.append = append_then_die  # type: ignore[method-assign]
            prepare_data(config(root, cache, workers=2))
        finally:
            os._exit(3)  # not reached when killed
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    assert list(cache.glob(".tmp-data-*")) and not list(cache.glob("data-*"))

    prepare_data(config(root, cache, workers=2))
    assert digest(cache) == digest(tmp_path / "clean")
    assert not list(cache.glob(".tmp-*")), "the killed build's temporary folder is removed"


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_preparation_shows_progress_with_a_rate_and_eta_on_a_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_corpus(tmp_path / "corpus")
    terminal = _Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    prepare_data(config(root, tmp_path / "cache", workers=1))
    shown = terminal.getvalue()
    assert "check" in shown and "B/s" in shown, shown  # the checking pass, over bytes
    assert "binarize" in shown and "line/s" in shown and "<" in shown, shown  # rate and ETA
    assert "/343 [" in shown, shown  # the total: every line of every split of both languages, 256 + 87


@pytest.mark.parametrize("workers", [1, 2])
def test_files_checked_in_parallel_report_the_error_read_corpus_reports(tmp_path: Path, workers: int) -> None:
    from catsmt.data.corpus import corpus_lines, read_corpus
    from catsmt.data.errors import DataError

    root = write_corpus(tmp_path / "corpus")
    (root / "valid.eng-aaa.aaa").write_bytes(b"ok\n\xff\n" + b"x\n" * 15)  # the first bad file read
    (root / "train.eng-bbb.bbb").write_text("a\n\nb\n")  # a later one
    cfg = config(root, tmp_path / "cache", workers=workers)
    with pytest.raises(DataError) as expected:
        read_corpus(cfg)
    with pytest.raises(DataError) as got:
        corpus_lines(cfg, workers=workers)
    assert str(got.value) == str(expected.value) and "valid.eng-aaa.aaa:2: invalid UTF-8" in str(got.value)
    (root / "valid.eng-aaa.aaa").write_text("ok\n" * 17)
    (root / "train.eng-bbb.bbb").write_text("a\n" * 61)
    ok = corpus_lines(cfg, workers=workers)
    assert ok.sizes("train") == {"aaa": 230, "bbb": 61} and ok.sizes("valid") == {"aaa": 17, "bbb": 17}
