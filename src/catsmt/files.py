"""Writing files so that a kill, a full disk or a second reader never sees half of one.

The one helper every module uses to write a file that must be whole or absent
(:func:`write_atomic`): the bytes go to a temporary file beside the target, are flushed
and fsynced, and the temporary file is renamed over the target, so the target holds the old
contents or the new ones, never a mix. The new file gets the permissions of a file created
normally (``0666`` minus the process's umask), not the ``0600`` of :func:`tempfile.mkstemp`,
so a data folder shared by a group stays readable by it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

#: The name pattern of :func:`write_atomic`'s temporary files (``.NAME.tmp-PID``).
TMP_PATTERN = re.compile(r"^\..+\.tmp-\d+$")


def current_umask() -> int:
    """The process's umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def temporary_path(path: Path) -> Path:
    """Where :func:`write_atomic` writes ``path`` first: a hidden name beside it, per process."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_temporary(path: Path, content: bytes | str | Callable[[BinaryIO], object], fsync: bool = True) -> Path:
    """Write ``content`` to :func:`temporary_path` of ``path``, flushed (and fsynced); returns
    the temporary path. On any error the temporary file is removed and the error raised.

    ``content`` is bytes, text (written as UTF-8), or a function that writes to a binary file.
    """
    tmp = temporary_path(path)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)  # the umask applies
        with os.fdopen(fd, "wb") as f:
            if callable(content):
                content(f)
            else:
                f.write(content.encode("utf-8") if isinstance(content, str) else content)
            f.flush()
            if fsync:
                os.fsync(f.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def write_atomic(path: str | Path, content: bytes | str | Callable[[BinaryIO], object], fsync: bool = True) -> None:
    """Replace ``path`` with ``content`` atomically (see the module docstring).

    A ``path`` that is a symbolic link keeps it: the file it points to is replaced (the
    temporary file goes beside that file, on its file system), as ``open(path, "w")`` would.

    Raises:
        OSError: the disk is full or the folder not writable; ``path`` is unchanged.
    """
    path = Path(path)
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    tmp = write_temporary(path, content, fsync)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if fsync:
        fsync_dir(path.parent)
