"""Fetching a public file by URL, from the network or from an offline mirror, always checksummed.

A mirror is a directory laid out by upstream URL (see ``shared/DATA.md``)::

    https://raw.githubusercontent.com/OWNER/REPO/COMMIT/PATH  ->  MIRROR/OWNER/REPO/COMMIT/PATH

It is given as an argument (the CLI's ``--mirror DIR``) or by the ``CATSMT_MIRROR`` environment
variable. With a mirror, nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import BinaryIO

from catsmt.data.errors import DataError
from catsmt.files import fsync_dir, write_temporary

MIRROR_ENV = "CATSMT_MIRROR"
MIRRORED_PREFIX = "https://raw.githubusercontent.com/"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1 << 20

log = logging.getLogger(__name__)


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def resolve_mirror(mirror: str | Path | None = None) -> Path | None:
    """The mirror directory: ``mirror`` if given, else ``$CATSMT_MIRROR`` if set, else None."""
    if mirror is not None and str(mirror) != "":
        return Path(mirror)
    env = os.environ.get(MIRROR_ENV, "")
    return Path(env) if env else None


def mirror_path(url: str, mirror: Path) -> Path:
    """Where ``url`` lives inside the mirror directory ``mirror``.

    Raises:
        DataError: when the URL is not under ``https://raw.githubusercontent.com/``.
    """
    if not url.startswith(MIRRORED_PREFIX):
        raise DataError(
            f"{url} cannot come from a mirror: only {MIRRORED_PREFIX}... URLs are mirrored"
        )
    rel = url[len(MIRRORED_PREFIX) :]
    if not rel or any(part in ("", ".", "..") for part in rel.split("/")):
        raise DataError(f"{url} has no valid file path after {MIRRORED_PREFIX}")
    return mirror.joinpath(*rel.split("/"))


def _open_source(url: str, mirror: Path | None, timeout: float) -> tuple[BinaryIO, str]:
    """An open binary stream of the file, and a description of where it comes from."""
    if mirror is not None:
        path = mirror_path(url, mirror)
        if not path.is_file():
            raise DataError(f"{url} is not in the mirror {mirror} (looked for {path})")
        return open(path, "rb"), str(path)
    try:
        response = urllib.request.urlopen(url, timeout=timeout)  # noqa: S310 - URLs come from our table
    except urllib.error.HTTPError as e:
        raise DataError(f"downloading {url} failed: HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        raise DataError(
            f"cannot reach {url} ({reason}) and no mirror given; "
            f"pass --mirror DIR or set {MIRROR_ENV}"
        ) from None
    return response, url


def fetch(
    url: str,
    sha256: str,
    dest: Path,
    mirror: str | Path | None = None,
    timeout: float = 60.0,
) -> Path:
    """Make ``dest`` a verified copy of ``url``.

    An existing ``dest`` whose sha256 matches is kept as it is. Otherwise the file is read from the
    mirror (``mirror``, else ``$CATSMT_MIRROR``) or downloaded, written to a temporary file next to
    ``dest``, checked, and only then renamed to ``dest``: an interrupted or corrupt transfer leaves
    nothing behind and never replaces a file.

    Args:
        url: upstream URL.
        sha256: expected hex sha256 of the file.
        dest: file to write (its directory is created).
        mirror: offline mirror directory; None = ``$CATSMT_MIRROR`` or the network.
        timeout: seconds to wait for the network.

    Returns:
        ``dest``.

    Raises:
        DataError: on a malformed ``sha256``, a checksum mismatch (naming the file and both
            hashes), a file missing from the mirror, or an unreachable URL without a mirror.
    """
    sha256 = sha256.lower()
    if not _SHA256.match(sha256):
        raise DataError(f"'{sha256}' is not a sha256 (64 hex digits) for {url}")
    dest = Path(dest)
    if dest.is_file():
        if sha256_file(dest) == sha256:
            return dest
        log.warning(
            "%s exists but its sha256 differs from the expected one; fetching it again", dest
        )

    dest.parent.mkdir(parents=True, exist_ok=True)
    source, where = _open_source(url, resolve_mirror(mirror), timeout)
    digest = hashlib.sha256()

    def copy(out: BinaryIO) -> None:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
            out.write(chunk)

    with source:
        try:
            tmp = write_temporary(dest, copy)
        except OSError as e:  # URLError is an OSError: a connection lost mid-transfer
            raise DataError(f"reading {where} into {dest} failed: {e}") from None
    try:
        actual = digest.hexdigest()
        if actual != sha256:
            raise DataError(
                f"sha256 mismatch for {where}: expected {sha256}, got {actual}; "
                f"{dest} was not written"
            )
        os.replace(tmp, dest)
    except OSError as e:
        raise DataError(f"cannot write {dest}: {e}") from None
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(dest.parent)
    return dest


__all__ = ["MIRROR_ENV", "fetch", "mirror_path", "resolve_mirror", "sha256_file"]
