"""Crash-safe checkpoints: atomic writes, checksums, safe loading, one commit point per save.

A checkpoint is one ``torch.save`` file plus a ``.sha256`` file beside it. Loading uses
``torch.load(weights_only=True)``: a file that carries pickled code is refused, never
executed, and a file whose checksum does not match reads as corrupted.

Layout inside ``RUN/checkpoints/``::

    step-0000800.pt (+ .sha256)   checkpoint files, written whole or not at all
    best.pt -> step-0000600.pt    the best by validation (relative symbolic link)
    last.pt -> step-0000800.pt    what --resume continues from (relative symbolic link)

**Why a kill at any instruction of a save is harmless.** :meth:`CheckpointManager.save`
writes the step file (data and checksum to temporary files, fsynced; the old checksum
removed; data renamed; checksum renamed), then moves ``best.pt`` (when the step is the best),
then moves ``last.pt`` -- the commit point -- then deletes step files no pointer needs. Every
rename is atomic, so each file is always whole: a step file is never beside a checksum of
other bytes (between the renames it has no checksum, and is read unverified). Before the
commit ``last.pt`` names the previous step, and resuming replays the same updates; a
``best.pt`` already moved to the uncommitted step is put back by :meth:`~CheckpointManager.roll_back`
from the committed step's own record of its best step. Run folders written by older
versions (``last.pt`` and ``best.pt`` regular files) load, and are converted on the next save.
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

from catsmt.files import TMP_PATTERN, fsync_dir, temporary_path, write_atomic, write_temporary

log = logging.getLogger(__name__)

#: The file format (a ``torch.save`` dict with this key); what the dict holds is versioned
#: separately, by :data:`catsmt.run.state.SCHEMA_VERSION`.
FORMAT_VERSION = 1
#: The two pointers of a run's checkpoints folder.
LAST, BEST = "last.pt", "best.pt"
_STEP_RE = re.compile(r"^step-(\d+)\.pt$")


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used: missing, corrupted, truncated or unsafe."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def checksum_path(path: Path) -> Path:
    """The ``.sha256`` file of checkpoint ``path`` (of the file a symbolic link names)."""
    real = _resolve(path)
    return real.with_name(real.name + ".sha256")


def _resolve(path: Path) -> Path:
    """``path``, or the file it links to (resolved relative to the link's folder)."""
    if path.is_symlink():
        return path.parent / os.readlink(path)
    return path


def save_checkpoint(state: dict[str, Any], path: str | Path) -> None:
    """Write ``state`` to ``path`` atomically with a checksum file beside it.

    Both files are written and fsynced under temporary names before anything is renamed, so
    a full disk or a permission error leaves the previous checkpoint intact. The old
    checksum is removed before the data is renamed and the new one renamed after it, so a
    crash between the renames leaves a whole file without a checksum (read unverified), never
    one with a checksum of other bytes (which would read as corrupted for ever).

    Raises:
        OSError: the disk is full or not writable; the previous file at ``path`` is intact.
    """
    path = Path(path)
    buf = io.BytesIO()
    torch.save({"format_version": FORMAT_VERSION, **state}, buf)
    data = buf.getvalue()
    sidecar = path.with_name(path.name + ".sha256")
    tmp_data = write_temporary(path, data)
    try:
        tmp_sum = write_temporary(sidecar, _sha256(data) + "\n")
    except BaseException:
        tmp_data.unlink(missing_ok=True)
        raise
    # No instant at which `path` and a checksum of other bytes are side by side: drop the
    # old checksum, rename the data, then its checksum.
    sidecar.unlink(missing_ok=True)
    os.replace(tmp_data, path)
    os.replace(tmp_sum, sidecar)
    fsync_dir(path.parent)


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
    if path.is_symlink() and not _resolve(path).exists():
        raise CheckpointError(f"checkpoint {path} points to {os.readlink(path)}, which is not there")
    try:
        data = path.read_bytes()
    except FileNotFoundError as e:
        raise CheckpointError(f"checkpoint not found: {path}") from e
    except OSError as e:
        raise CheckpointError(f"cannot read checkpoint {path}: {e}") from e
    sidecar = checksum_path(path)
    if sidecar.exists():
        expected = sidecar.read_text().strip()
        actual = _sha256(data)
        if expected != actual:
            raise CheckpointError(
                f"checkpoint {path} is corrupted or truncated: sha256 {actual[:12]}... "
                f"does not match the recorded {expected[:12]}..."
            )
    elif path.name in (LAST, BEST):
        _verify_copied_pointer(path, data)
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


def _verify_copied_pointer(path: Path, data: bytes) -> None:
    """A ``last.pt`` or ``best.pt`` that is a file without a checksum of its own: a run folder
    copied with links followed (``shutil.copytree``, ``scp -r``). Its bytes are those of a
    step file beside it, whose checksum came along; none matching means it is damaged."""
    sums = [p for p in path.parent.glob("step-*.pt.sha256") if p.is_file()]
    if not sums:
        return  # a lone copy: nothing to verify against
    actual = _sha256(data)
    if not any(p.read_text().strip() == actual for p in sums):
        raise CheckpointError(
            f"checkpoint {path} is corrupted or truncated: sha256 {actual[:12]}... matches none of "
            f"the {len(sums)} step checkpoints' checksums beside it"
        )


def step_checkpoints(directory: str | Path) -> list[tuple[int, Path]]:
    """``(step, path)`` of the step checkpoints in ``directory``, oldest first."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = []
    for p in directory.iterdir():
        m = _STEP_RE.match(p.name)
        if m and not p.is_symlink():
            found.append((int(m.group(1)), p))
    return sorted(found)


def step_file_name(step: int) -> str:
    """``step-0000800.pt``: the file a step's checkpoint is written to."""
    return f"step-{step:07d}.pt"


def _remove(path: Path) -> None:
    """Delete a checkpoint file and its checksum (checksum first: never a stale one left)."""
    path.with_name(path.name + ".sha256").unlink(missing_ok=True)
    path.unlink(missing_ok=True)


class CheckpointManager:
    """Writes a run's step checkpoints and moves its ``best.pt`` and ``last.pt`` pointers.

    Args:
        directory: ``RUN/checkpoints``.
        keep_last: step checkpoints to keep besides those ``best.pt`` and ``last.pt`` name
            (older ones are deleted after each save).
    """

    def __init__(self, directory: str | Path, keep_last: int = 2) -> None:
        self.dir = Path(directory)
        self.keep_last = max(0, keep_last)

    def save(self, state: dict[str, Any], step: int, is_best: bool = False) -> Path:
        """Save ``state`` as the step file, point ``best.pt`` (if best) and then ``last.pt``
        to it, and prune; returns the step file's path (see the module docstring)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        self._remove_stale_temporaries()
        path = self.dir / step_file_name(step)
        save_checkpoint(state, path)
        if is_best:
            self._point(BEST, path.name)
        self._point(LAST, path.name)  # the commit point
        self._prune()
        return path

    def _point(self, pointer: str, target: str) -> None:
        """Make ``pointer`` a relative symbolic link to ``target``, atomically."""
        link = self.dir / pointer
        if link.is_symlink() and os.readlink(link) == target:
            return
        tmp = temporary_path(link)
        tmp.unlink(missing_ok=True)
        os.symlink(target, tmp)
        os.replace(tmp, link)
        fsync_dir(self.dir)
        # A run folder of an older version kept a checksum beside the pointer file itself.
        (self.dir / f"{pointer}.sha256").unlink(missing_ok=True)

    def pointed(self, pointer: str) -> Path | None:
        """The step file ``pointer`` names (``None`` when it is absent or a regular file)."""
        link = self.dir / pointer
        return self.dir / os.readlink(link) if link.is_symlink() else None

    def _prune(self) -> None:
        """Delete step files beyond the newest ``keep_last``, except those a pointer names."""
        needed = {p.name for p in (self.pointed(LAST), self.pointed(BEST)) if p is not None}
        steps = step_checkpoints(self.dir)
        keep = {p.name for _, p in steps[max(0, len(steps) - self.keep_last) :]}
        for _, path in steps:
            if path.name not in needed and path.name not in keep:
                _remove(path)

    def _remove_stale_temporaries(self) -> None:
        """Delete temporary files left by a writer that was killed mid-save (another pid):
        each can be as large as a checkpoint, and a run preempted often would pile them up."""
        own = f".tmp-{os.getpid()}"
        for p in self.dir.iterdir():
            if TMP_PATTERN.match(p.name) and not p.name.endswith(own):
                p.unlink(missing_ok=True)

    def has_checkpoint(self) -> bool:
        """Whether any checkpoint file (readable or not) is in the directory."""
        return (self.dir / LAST).exists() or bool(step_checkpoints(self.dir))

    def load_latest(self, map_location: str | torch.device = "cpu") -> tuple[dict[str, Any], Path]:
        """Load what ``last.pt`` names, falling back (with a warning) to the newest readable
        step file; returns the checkpoint and the file it came from.

        Raises:
            CheckpointError: when no checkpoint in the directory can be read.
        """
        candidates = [self.dir / LAST] + [p for _, p in reversed(step_checkpoints(self.dir))]
        errors = []
        for path in candidates:
            if not path.exists() and not path.is_symlink():
                continue
            try:
                state = load_checkpoint(path, map_location)
            except CheckpointError as e:
                log.warning("%s; trying an older checkpoint", e)
                errors.append(str(e))
                continue
            if errors:
                log.warning("resuming from %s (step %s)", path, state.get("step"))
            return state, _resolve(path)
        detail = "; ".join(errors) if errors else "no checkpoint files"
        raise CheckpointError(f"no usable checkpoint in {self.dir}: {detail}")

    def roll_back(self, source: Path, step: int, best_step: int) -> None:
        """Make the folder what it was when checkpoint ``source`` (of ``step``) was committed:
        step files after ``step`` belong to updates that will be replayed and are deleted,
        and ``best.pt`` is made to name ``best_step``'s file again, if it moved on.

        Called on resume, before training continues from ``source``.
        """
        for s, path in step_checkpoints(self.dir):
            if s > step and path != source:
                log.info("removing %s: written after the checkpoint the run resumes from", path.name)
                _remove(path)
        if best_step < 0:
            return
        best = self.dir / BEST
        want = self.dir / step_file_name(best_step)
        if best_step == step and not want.exists() and source.exists():
            want = self._adopt(source, step)  # an older folder whose last.pt is a file of its own
        if self.pointed(BEST) == want:
            return
        if best.is_file() and not best.is_symlink() and _saved_step(best) == best_step:
            return  # an older folder's best.pt: a file of its own, of the right step
        if want.exists():
            log.info("pointing best.pt at %s, the best step (%d) of the checkpoint resumed from",
                     want.name, best_step)
            self._point(BEST, want.name)
        else:
            log.warning("best.pt does not hold step %d, the best step recorded in %s, and that "
                        "step's file is gone", best_step, source.name)

    def _adopt(self, source: Path, step: int) -> Path:
        """Give the checkpoint in ``source`` (an older folder's ``last.pt`` file) its step
        file name too, by a hard link (a copy where links are not possible)."""
        target = self.dir / step_file_name(step)
        tmp = temporary_path(target)
        tmp.unlink(missing_ok=True)
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copyfile(source, tmp)
        sidecar = source.with_name(source.name + ".sha256")
        if sidecar.exists():
            write_atomic(target.with_name(target.name + ".sha256"), sidecar.read_bytes())
        os.replace(tmp, target)
        return target


def _saved_step(path: Path) -> int | None:
    """The step recorded in checkpoint ``path`` (``None`` when it cannot be read)."""
    try:
        return int(load_checkpoint(path).get("step", -1))
    except CheckpointError:
        return None
