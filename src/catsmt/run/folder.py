"""A run folder's layout, its lock, and which config a resumed run trains with.

:class:`RunFolder` names every path of ``RUN/`` (see :mod:`catsmt.run`), checks a folder
before a run starts into it or resumes it, creates it, and holds its lock: an advisory
``flock`` on ``RUN/.lock`` for as long as a process trains there, so a second
``catsmt train --resume RUN`` is refused with the first one's pid instead of interleaving
two runs' checkpoints and metrics. The lock dies with its process (no stale lock after a
kill).

On resume the config stored in the last checkpoint is the truth (:func:`resume_config`);
``config.yaml`` is a copy for people, compared with it, and rewritten from it when it
differs (a torn or edited copy is named in a warning, never trained with).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from catsmt.files import write_atomic

if TYPE_CHECKING:
    from catsmt.config import Config

log = logging.getLogger(__name__)

#: Keys a resumed run may not change: they decide the shapes of what the checkpoint holds
#: (the model, the vocabulary, the tasks, the sampler's data) or the weighting state's kind.
#: Everything else (``train.max_steps``, ``train.lr``, the device, ...) may be overridden.
FIXED_ON_RESUME = ("model.", "data.", "weighting.method")
#: Exceptions to :data:`FIXED_ON_RESUME`: how the same data is read, not what it is.
FREE_ON_RESUME = ("data.dir", "data.cache_dir", "data.prefetch", "data.workers")


class RunDirError(RuntimeError):
    """Starting into a run folder that exists (without ``--resume``), resuming a missing one,
    or one that another process is training in."""


@dataclass(frozen=True)
class RunFolder:
    """The paths of one run folder (nothing is created by making one)."""

    path: Path

    @property
    def config(self) -> Path:
        return self.path / "config.yaml"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def metrics(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def summary(self) -> Path:
        return self.path / "summary.json"

    @property
    def eval_dir(self) -> Path:
        return self.path / "eval"

    @property
    def lock_file(self) -> Path:
        return self.path / ".lock"

    @property
    def vocab(self) -> Path:
        """The run's SentencePiece model (:mod:`catsmt.run.model_folder` writes it)."""
        from catsmt.run.model_folder import VOCAB_FILE

        return self.path / VOCAB_FILE

    @property
    def languages(self) -> Path:
        """The run's tasks and vocabulary ids, written after :attr:`vocab` (the commit point)."""
        from catsmt.run.model_folder import RUN_LANGUAGES_FILE

        return self.path / RUN_LANGUAGES_FILE

    # -- before a run ---------------------------------------------------------------------
    def check(self, resume: bool) -> None:
        """Refuse a start into a non-empty folder, a resume of a missing one, or a folder
        that cannot be written -- before the data is prepared, so nothing is wasted.

        Raises:
            RunDirError: with the reason and what to do.
        """
        run = self.path
        if resume:
            if not run.is_dir():
                raise RunDirError(f"cannot resume: run folder {run} does not exist")
        elif run.exists() and (not run.is_dir() or any(p.name != self.lock_file.name for p in run.iterdir())):
            has_ckpt = (self.checkpoints / "last.pt").exists() or (self.checkpoints / "last.pt").is_symlink()
            hint = " (it has checkpoints; add --resume to continue it)" if has_ckpt else ""
            raise RunDirError(f"run folder {run} already exists and is not empty{hint}; choose another train.run_dir")
        for folder in (run, self.checkpoints):
            existing = next(p for p in (folder, *folder.parents) if p.exists())
            if not os.access(existing, os.W_OK | os.X_OK):
                raise RunDirError(f"cannot write the run folder {run}: {existing} is not writable")

    def create(self, config_yaml: str) -> None:
        """Create the folder and write ``config.yaml`` (atomically)."""
        self.path.mkdir(parents=True, exist_ok=True)
        write_atomic(self.config, config_yaml)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the run folder's lock (creating the folder if needed) for the ``with`` block.

        Raises:
            RunDirError: another process holds it; the message names its pid and host.
        """
        try:
            import fcntl
        except ImportError:  # no flock on this platform: run unlocked
            yield
            return
        self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = _read_holder(fd)
                raise RunDirError(
                    f"run folder {self.path} is in use by another catsmt process ({holder}); "
                    "wait for it to finish or stop it, then resume"
                ) from None
            os.ftruncate(fd, 0)
            os.write(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname()}).encode() + b"\n")
            yield
        finally:
            os.close(fd)  # closing releases the flock


def _read_holder(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        info = json.loads(os.read(fd, 4096).decode() or "{}")
        return f"pid {info['pid']} on {info['host']}"
    except (OSError, ValueError, KeyError):
        return "pid unknown"


# -- the config a resumed run trains with ---------------------------------------------------


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"train.lr": 0.001, ...}`` from nested sections."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def config_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """``(key, old value, new value)`` of every key that differs, sorted by key."""
    a, b = flatten(old), flatten(new)
    missing = object()
    changed = [(k, a.get(k, missing), b.get(k, missing)) for k in sorted(set(a) | set(b)) if a.get(k, missing) != b.get(k, missing)]
    return [(k, None if x is missing else x, None if y is missing else y) for k, x, y in changed]


def describe(changes: Sequence[tuple[str, Any, Any]], limit: int = 6) -> str:
    """``train.lr 0.003 -> 0.0015, ...`` (the first ``limit`` changes, then a count)."""
    shown = [f"{k} {a!r} -> {b!r}" for k, a, b in changes[:limit]]
    more = len(changes) - limit
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def resume_changes(saved: Mapping[str, Any], wanted: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """What ``wanted`` changes in a checkpoint's config ``saved``. A key ``saved`` lacks is a
    field added by a newer catsmt: its default reproduces the old behaviour, so not a change."""
    known = flatten(saved)
    return [c for c in config_changes(saved, wanted) if c[0] in known and c[0] != "train.run_dir"]


def fixed_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """The changes a resumed run cannot make (:data:`FIXED_ON_RESUME`)."""
    return [
        c for c in resume_changes(old, new)
        if c[0].startswith(FIXED_ON_RESUME) and c[0] not in FREE_ON_RESUME
    ]


def check_resume_changes(saved: Mapping[str, Any], wanted: Mapping[str, Any], source: str) -> None:
    """Refuse to resume from ``saved`` (a checkpoint's config) with a config that changes what
    the checkpoint's tensors depend on; log the changes that are allowed.

    Raises:
        RunDirError: naming the keys and values, and what to do instead.
    """
    fixed = fixed_changes(saved, wanted)
    if fixed:
        raise RunDirError(
            f"cannot resume {source} with {describe(fixed)}: the checkpoint's model, data or "
            "weighting method were built with the old values; start a new run (another "
            "train.run_dir) to change them"
        )
    allowed = resume_changes(saved, wanted)
    if allowed:
        log.info("resuming with changes to the checkpoint's config: %s", describe(allowed, limit=20))


def resume_config(run: str | Path, overrides: Sequence[str] = ()) -> Config:
    """The config ``catsmt train --resume RUN key=value ...`` trains with: the one stored in
    RUN's last checkpoint, with ``overrides`` applied (``config.yaml`` only when the run
    stopped before its first checkpoint).

    ``config.yaml`` is compared with the checkpoint's config; a difference (a torn copy, an
    edit) is named in a warning, and the trainer rewrites the file from the config it uses.

    Raises:
        RunDirError: RUN is not a run folder.
        ConfigError: an invalid override, or an unreadable config.yaml when it is all there is.
        CheckpointError: no checkpoint in RUN can be read.
    """
    from catsmt.config import (
        Config,
        ConfigError,
        from_dict,
        load_config,
        merge,
        parse_overrides,
        read_yaml,
    )
    from catsmt.run.checkpoint import CheckpointManager

    folder = RunFolder(Path(run))
    if not folder.path.is_dir():
        raise RunDirError(f"--resume {folder.path}: no such run folder")
    overrides = [*overrides, f"train.run_dir={folder.path}"]
    ckpts = CheckpointManager(folder.checkpoints)
    if not ckpts.has_checkpoint():
        if not folder.config.exists():
            raise RunDirError(f"--resume {folder.path}: no config.yaml and no checkpoint there (is it a catsmt run folder?)")
        return load_config(folder.config, overrides)
    ck, source = ckpts.load_latest()
    saved = ck.get("config")
    if not isinstance(saved, dict):
        raise RunDirError(f"--resume {folder.path}: {source} holds no config")
    try:
        on_disk: Mapping[str, Any] | None = read_yaml(folder.config)
    except ConfigError as e:
        on_disk, reason = None, str(e)
    if on_disk is None:
        log.warning("%s is unreadable (%s); resuming with the config stored in %s", folder.config, reason, source)
    else:
        changes = [c for c in config_changes(saved, on_disk) if c[0] != "train.run_dir"]
        lacks = [k for k, _, new in changes if new is None]
        edits = [c for c in changes if c[2] is not None]
        parts = []
        if lacks:
            parts.append(f"it lacks {len(lacks)} key(s) ({', '.join(lacks[:4])}{', ...' if len(lacks) > 4 else ''}; cut short?)")
        if edits:
            parts.append(f"it changes {describe(edits)}")
        if parts:
            log.warning(
                "%s differs from the config stored in %s: %s; resuming with the checkpoint's config and "
                "rewriting config.yaml from it (to change a value, pass key=value after --resume RUN)",
                folder.config, source.name, "; ".join(parts),
            )
    return from_dict(Config, merge(saved, parse_overrides(overrides)))
