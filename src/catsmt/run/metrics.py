"""``metrics.jsonl`` (one JSON object per event) and optional TensorBoard scalars.

Each line is flushed as it is written, so a crash loses at most the line being written;
:func:`read_metrics` skips a torn last line.

A resumed run logs again every update after its checkpoint, so on resume the file is cut back
to the checkpoint's step first (:func:`truncate_metrics`, which also drops a torn last line that
the next event would otherwise be glued onto) and TensorBoard purges the same steps
(``purge_step``). The file then reads as if the run had never stopped, except that the first
``train`` event after a resume averages only the updates since the checkpoint.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from catsmt.files import write_atomic


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


class MetricsLogger:
    """Appends events to ``RUN/metrics.jsonl`` and mirrors numbers to TensorBoard.

    Args:
        run_dir: the run folder.
        tensorboard: also write TensorBoard event files under ``RUN/tb``.
        enabled: False on non-zero DDP ranks (nothing is written).
        resume_step: the step of the checkpoint a resumed run continues from: events after it
            are dropped from ``metrics.jsonl`` and purged from TensorBoard, since the run will
            log them again. None for a new run.
    """

    def __init__(
        self, run_dir: str | Path, tensorboard: bool = True, enabled: bool = True,
        resume_step: int | None = None,
    ) -> None:
        self.enabled = enabled
        self.path = Path(run_dir) / "metrics.jsonl"
        if enabled and resume_step is not None:
            truncate_metrics(self.path, resume_step)
        self._file = open(self.path, "a", encoding="utf-8") if enabled else None  # noqa: SIM115
        self._tb: Any = None
        if enabled and tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                purge = None if resume_step is None else resume_step + 1
                self._tb = SummaryWriter(str(Path(run_dir) / "tb"), purge_step=purge)
            except ImportError:  # tensorboard not installed: jsonl only
                self._tb = None

    def log(self, event: dict[str, Any]) -> None:
        """Write one event: ``{"step": ..., "split": ..., "lang": ..., "loss": ..., ...}``."""
        if not self.enabled or self._file is None:
            return
        self._file.write(json.dumps(_clean(event), ensure_ascii=False) + "\n")
        self._file.flush()
        if self._tb is not None and "step" in event:
            prefix = "/".join(str(event[k]) for k in ("split", "lang") if event.get(k))
            for key, value in event.items():
                if key in ("step", "split", "lang", "event") or isinstance(value, bool):
                    continue
                if isinstance(value, (int, float)) and math.isfinite(value):
                    self._tb.add_scalar(f"{prefix}/{key}" if prefix else key, value, event["step"])
                elif isinstance(value, dict):
                    for sub, v in value.items():
                        if isinstance(v, (int, float)) and math.isfinite(v):
                            self._tb.add_scalar(f"{key}/{sub}", v, event["step"])

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._tb is not None:
            self._tb.close()
            self._tb = None


def read_metrics(path: str | Path) -> Iterator[dict[str, Any]]:
    """Events of a ``metrics.jsonl``; a torn (crash-truncated) line is skipped."""
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue


def truncate_metrics(path: str | Path, step: int) -> int:
    """Keep only the complete events of ``path`` logged at or before ``step``.

    Drops events of later steps (a resumed run logs them again), a torn last line, and any
    line that is not JSON. The file is rewritten atomically; a missing file is left missing.

    Returns:
        The number of lines dropped.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return 0
    kept: list[bytes] = []
    *lines, torn = raw.split(b"\n")  # ``torn`` is b"" unless the last line lacks its newline
    dropped = 1 if torn.strip() else 0
    for line in lines:
        try:
            event = json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            event = None
        if isinstance(event, dict) and not (isinstance(event.get("step"), int) and event["step"] > step):
            kept.append(line + b"\n")
        elif line.strip():
            dropped += 1
    if dropped or torn:
        write_atomic(path, b"".join(kept))
    return dropped
