"""Crash-safe checkpoints: atomic writes, checksums, safe loading, fallback to an older file.

A checkpoint is one ``torch.save`` file plus a ``.sha256`` file beside it. Writing goes to a
temporary file that is flushed, fsynced and renamed over the target, so a crash or a full
disk leaves the previous checkpoint intact (the temporary file of a writer killed mid-save is
removed by the next save). Loading uses ``torch.load(weights_only=True)``:
a file that carries pickled code is refused, never executed.

Layout inside ``RUN/checkpoints/``::

    last.pt          the newest checkpoint (what --resume continues from)
    best.pt          the best by validation loss (hard link or copy of a step file)
    step-000800.pt   the last ``keep_last`` step checkpoints (hard links to last.pt's data)
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import pickle
import re
import shutil
from pathlib import Path
from typing import Any

import torch

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
_STEP_RE = re.compile(r"^step-(\d+)\.pt$")
_TMP_RE = re.compile(r"^\..+\.tmp-\d+$")  # what _write_synced and _link_or_copy write first


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used: missing, corrupted, truncated or unsafe."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _fsync_dir(path: Path) -> None:
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


def _write_synced(path: Path, data: bytes) -> Path:
    """Write ``data`` to a temporary file beside ``path``, fsynced; returns the temp path."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def save_checkpoint(state: dict[str, Any], path: str | Path) -> None:
    """Write ``state`` to ``path`` atomically with a checksum file beside it.

    Both files are written and fsynced under temporary names before anything is renamed, so
    a full disk or a permission error leaves the previous checkpoint intact. A crash between
    the two renames leaves a checksum that does not match, which reads as corrupted and
    falls back to an older checkpoint -- never a silently wrong one.

    Raises:
        OSError: the disk is full or not writable; the previous file at ``path`` is intact.
    """
    path = Path(path)
    buf = io.BytesIO()
    torch.save({"format_version": FORMAT_VERSION, **state}, buf)
    data = buf.getvalue()
    sidecar = path.with_name(path.name + ".sha256")
    tmp_data = _write_synced(path, data)
    try:
        tmp_sum = _write_synced(sidecar, (_sha256(data) + "\n").encode())
    except BaseException:
        tmp_data.unlink(missing_ok=True)
        raise
    os.replace(tmp_sum, sidecar)
    os.replace(tmp_data, path)
    _fsync_dir(path.parent)


def _first_line(e: BaseException) -> str:
    return next((line.strip() for line in str(e).splitlines() if line.strip()), type(e).__name__)


def _unpickling_detail(e: BaseException) -> str:
    """The one informative line of torch's multi-paragraph ``weights_only`` error (which also
    suggests ``weights_only=False``, advice a user must not follow for an untrusted file)."""
    boilerplate = ("Weights only load failed", "Please file an issue", "Check the documentation")
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    useful = [line for line in lines if not line.startswith(boilerplate)]
    return useful[0] if useful else _first_line(e)


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint safely: checksum verified, ``weights_only=True``.

    Raises:
        CheckpointError: missing, truncated, corrupted, or containing pickled code.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError as e:
        raise CheckpointError(f"checkpoint not found: {path}") from e
    except OSError as e:
        raise CheckpointError(f"cannot read checkpoint {path}: {e}") from e
    sidecar = path.with_name(path.name + ".sha256")
    if sidecar.exists():
        expected = sidecar.read_text().strip()
        actual = _sha256(data)
        if expected != actual:
            raise CheckpointError(
                f"checkpoint {path} is corrupted or truncated: sha256 {actual[:12]}... "
                f"does not match the recorded {expected[:12]}..."
            )
    try:
        state = torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        detail = _unpickling_detail(e)
        if "GLOBAL" in detail:
            raise CheckpointError(
                f"refusing to load {path}: it contains objects other than tensors and plain data "
                f"(possibly code); catsmt loads checkpoints with weights_only=True ({detail})"
            ) from e
        raise CheckpointError(f"checkpoint {path} is unreadable ({detail})") from e
    except Exception as e:  # truncated zip, wrong format
        raise CheckpointError(f"checkpoint {path} is unreadable ({type(e).__name__}: {_first_line(e)})") from e
    if not isinstance(state, dict) or "format_version" not in state:
        raise CheckpointError(f"{path} is not a catsmt checkpoint")
    return state


def step_checkpoints(directory: str | Path) -> list[tuple[int, Path]]:
    """``(step, path)`` of the step checkpoints in ``directory``, oldest first."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = []
    for p in directory.iterdir():
        m = _STEP_RE.match(p.name)
        if m:
            found.append((int(m.group(1)), p))
    return sorted(found)


def _link_or_copy(src: Path, dst: Path) -> None:
    tmp = dst.with_name(f".{dst.name}.tmp-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copyfile(src, tmp)
    os.replace(tmp, dst)
    sidecar = src.with_name(src.name + ".sha256")
    if sidecar.exists():
        shutil.copyfile(sidecar, dst.with_name(dst.name + ".sha256"))


class CheckpointManager:
    """Writes ``last``, ``best`` and the last ``keep_last`` step checkpoints of a run.

    Args:
        directory: ``RUN/checkpoints``.
        keep_last: step checkpoints to keep (older ones are deleted after a successful save).
    """

    def __init__(self, directory: str | Path, keep_last: int = 2) -> None:
        self.dir = Path(directory)
        self.keep_last = max(0, keep_last)

    def save(self, state: dict[str, Any], step: int, is_best: bool = False) -> Path:
        """Save ``state`` as ``last.pt`` (and ``step-N.pt``, ``best.pt``); returns last's path."""
        self.dir.mkdir(parents=True, exist_ok=True)
        self._remove_stale_temporaries()
        last = self.dir / "last.pt"
        save_checkpoint(state, last)
        step_path = self.dir / f"step-{step:07d}.pt"
        if self.keep_last > 0 or is_best:
            _link_or_copy(last, step_path)
        if is_best:
            _link_or_copy(step_path, self.dir / "best.pt")
        if self.keep_last > 0:
            for _, old in step_checkpoints(self.dir)[: -self.keep_last]:
                old.unlink(missing_ok=True)
                old.with_name(old.name + ".sha256").unlink(missing_ok=True)
        elif step_path.exists():
            step_path.unlink()
            step_path.with_name(step_path.name + ".sha256").unlink(missing_ok=True)
        return last

    def _remove_stale_temporaries(self) -> None:
        """Delete temporary files left by a writer that was killed mid-save (another pid):
        each can be as large as a checkpoint, and a run preempted often would pile them up."""
        own = f".tmp-{os.getpid()}"
        for p in self.dir.iterdir():
            if _TMP_RE.match(p.name) and not p.name.endswith(own):
                p.unlink(missing_ok=True)

    def has_checkpoint(self) -> bool:
        """Whether any checkpoint file (readable or not) is in the directory."""
        return (self.dir / "last.pt").exists() or bool(step_checkpoints(self.dir))

    def load_latest(self, map_location: str | torch.device = "cpu") -> dict[str, Any]:
        """Load ``last.pt``, falling back (with a warning) to the newest readable step file.

        Raises:
            CheckpointError: when no checkpoint in the directory can be read.
        """
        candidates = [self.dir / "last.pt"] + [p for _, p in reversed(step_checkpoints(self.dir))]
        errors = []
        for path in candidates:
            if not path.exists():
                continue
            try:
                state = load_checkpoint(path, map_location)
            except CheckpointError as e:
                log.warning("%s; trying an older checkpoint", e)
                errors.append(str(e))
                continue
            if errors:
                log.warning("resuming from %s (step %s)", path, state.get("step"))
            return state
        detail = "; ".join(errors) if errors else "no checkpoint files"
        raise CheckpointError(f"no usable checkpoint in {self.dir}: {detail}")
