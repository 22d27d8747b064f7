"""catsmt.files.write_atomic: whole or absent, permissions from the umask, links kept."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from catsmt.files import TMP_PATTERN, write_atomic


@pytest.fixture
def group_umask() -> Iterator[int]:
    """The umask of a group-shared data folder (0o002), put back afterwards."""
    previous = os.umask(0o002)
    try:
        yield 0o002
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_and_replaced_files_follow_the_umask(tmp_path: Path, group_umask: int) -> None:
    path = tmp_path / "scores.json"
    write_atomic(path, "{}\n")
    assert mode(path) == 0o664  # 0666 & ~0002, not mkstemp's 0600
    write_atomic(path, b"[]\n")
    assert path.read_bytes() == b"[]\n" and mode(path) == 0o664


def test_a_symbolic_link_is_kept_and_its_target_replaced(tmp_path: Path) -> None:
    target = tmp_path / "store" / "scores.json"
    target.parent.mkdir()
    target.write_text("old\n")
    link = tmp_path / "scores.json"
    link.symlink_to(target)
    write_atomic(link, "new\n")
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text() == "new\n"
    assert [p.name for p in target.parent.iterdir()] == ["scores.json"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "vocab.model"
    path.write_bytes(b"old")

    def broken(f: object) -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        write_atomic(path, broken)
    assert path.read_bytes() == b"old"
    assert not [p for p in tmp_path.iterdir() if TMP_PATTERN.match(p.name)]
