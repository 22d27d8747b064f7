"""Tests of catsmt.data.download: mirror lookup, checksums, atomic writes; no network used."""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from catsmt.data import download
from catsmt.data.download import fetch, mirror_path
from catsmt.data.errors import DataError
from catsmt.files import TMP_PATTERN

CONTENT = b"Invented sentence one.\nInvented sentence two.\n"
SHA = hashlib.sha256(CONTENT).hexdigest()
URL = "https://raw.githubusercontent.com/someone/corpus/0123abcd/data/train.txt"


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """No test may reach the network, and none inherits a mirror from the environment."""

    def refuse(url, timeout=None):
        raise urllib.error.URLError("network disabled in tests")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.delenv(download.MIRROR_ENV, raising=False)


@pytest.fixture
def mirror(tmp_path) -> Path:
    root = tmp_path / "mirror"
    path = root / "someone/corpus/0123abcd/data/train.txt"
    path.parent.mkdir(parents=True)
    path.write_bytes(CONTENT)
    return root


def leftovers(directory: Path) -> list[str]:
    """Temporary files left beside the destination (names as catsmt.files writes them)."""
    return sorted(p.name for p in directory.iterdir() if TMP_PATTERN.match(p.name))


def test_mirror_path_follows_the_url():
    assert mirror_path(URL, Path("/m")) == Path("/m/someone/corpus/0123abcd/data/train.txt")
    with pytest.raises(DataError, match="only https://raw.githubusercontent.com/"):
        mirror_path("https://example.org/a.txt", Path("/m"))
    with pytest.raises(DataError, match="no valid file path"):
        mirror_path("https://raw.githubusercontent.com/a/../b", Path("/m"))


def test_fetch_from_mirror_argument_and_from_env(tmp_path, mirror, monkeypatch):
    dest = fetch(URL, SHA, tmp_path / "out" / "train.txt", mirror=mirror)
    assert dest.read_bytes() == CONTENT
    monkeypatch.setenv(download.MIRROR_ENV, str(mirror))
    other = fetch(URL, SHA, tmp_path / "out2" / "train.txt")
    assert other.read_bytes() == CONTENT


def test_fetch_file_url_without_mirror(tmp_path, monkeypatch):
    monkeypatch.undo()  # the real urlopen, for a file:// URL only
    monkeypatch.delenv(download.MIRROR_ENV, raising=False)
    src = tmp_path / "src.txt"
    src.write_bytes(CONTENT)
    dest = fetch(src.as_uri(), SHA, tmp_path / "dest.txt")
    assert dest.read_bytes() == CONTENT


def test_checksum_mismatch_names_file_and_both_hashes(tmp_path, mirror):
    wrong = "0" * 64
    dest = tmp_path / "out" / "train.txt"
    with pytest.raises(DataError) as e:
        fetch(URL, wrong, dest, mirror=mirror)
    message = str(e.value)
    assert "sha256 mismatch" in message and "train.txt" in message
    assert wrong in message and SHA in message
    assert not dest.exists() and leftovers(dest.parent) == []


def test_mismatch_never_replaces_an_existing_file(tmp_path, mirror):
    dest = tmp_path / "train.txt"
    dest.write_bytes(b"an older, different file\n")
    with pytest.raises(DataError, match="sha256 mismatch"):
        fetch(URL, "1" * 64, dest, mirror=mirror)
    assert dest.read_bytes() == b"an older, different file\n"
    assert leftovers(tmp_path) == []


def test_good_existing_file_is_reused_without_reading_the_source(tmp_path):
    dest = tmp_path / "train.txt"
    dest.write_bytes(CONTENT)
    before = dest.stat().st_mtime_ns
    # no mirror and no network: succeeding proves the source was not touched
    assert fetch(URL, SHA, dest) == dest
    assert dest.stat().st_mtime_ns == before


def test_corrupt_existing_file_is_replaced(tmp_path, mirror):
    dest = tmp_path / "train.txt"
    dest.write_bytes(b"truncated")
    fetch(URL, SHA, dest, mirror=mirror)
    assert dest.read_bytes() == CONTENT


def test_unreachable_without_mirror(tmp_path):
    dest = tmp_path / "train.txt"
    with pytest.raises(DataError) as e:
        fetch(URL, SHA, dest)
    message = str(e.value)
    assert f"cannot reach {URL}" in message and "no mirror given" in message
    assert "--mirror DIR" in message and "CATSMT_MIRROR" in message
    assert not dest.exists()


def test_http_error(tmp_path, monkeypatch):
    def not_found(url, timeout=None):
        raise urllib.error.HTTPError(url, 404, "Not Found", {}, None)

    monkeypatch.setattr(urllib.request, "urlopen", not_found)
    with pytest.raises(DataError, match="HTTP 404"):
        fetch(URL, SHA, tmp_path / "train.txt")


def test_file_missing_from_mirror(tmp_path, mirror):
    url = URL.replace("train.txt", "valid.txt")
    with pytest.raises(DataError, match=r"not in the mirror .*data/valid\.txt"):
        fetch(url, SHA, tmp_path / "valid.txt", mirror=mirror)


def test_malformed_checksum(tmp_path, mirror):
    with pytest.raises(DataError, match="not a sha256"):
        fetch(URL, "abc", tmp_path / "train.txt", mirror=mirror)
