"""Glue for ``torchrun``: detect the environment, set up the process group, reduce tensors.

The training loop is the same for one process and for DDP; this module is the only place
that knows whether there are several. Every function here is a no-op (or returns its input)
in a single process. See docs/distributed.md for what is synchronised and when.
"""

from __future__ import annotations

import inspect
import os
import pickle
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import nn

T = TypeVar("T")


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def detect() -> DistInfo:
    """Read torchrun's ``RANK`` / ``WORLD_SIZE`` / ``LOCAL_RANK`` (single process without them)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    return DistInfo(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))


def _active() -> bool:
    return dist.is_available() and dist.is_initialized()


def init(info: DistInfo, device: torch.device) -> None:
    """Initialise the default process group when distributed.

    On CUDA the group has NCCL for CUDA tensors and gloo for CPU tensors (the loop reduces
    small CPU tensors: token counts, validation sums, stop flags); on CPU it is gloo.
    """
    if info.enabled and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)  # NCCL and object collectives use the current device
            dist.init_process_group(backend="cpu:gloo,cuda:nccl")
        else:
            dist.init_process_group(backend="gloo")


def shutdown() -> None:
    if _active():
        dist.destroy_process_group()


def wrap(model: nn.Module, device: torch.device) -> nn.Module:
    """``model`` in DistributedDataParallel when distributed, else ``model`` itself.

    Buffers are not broadcast before each forward: the model's only buffer is its constant
    sinusoidal table (1024 x dim floats), identical on every rank.
    """
    if not _active():
        return model
    ddp = nn.parallel.DistributedDataParallel
    no_buffer_sync: dict[str, Any] = (
        {"forward_sync_buffers": False}  # torch >= 2.13; broadcast_buffers is deprecated there
        if "forward_sync_buffers" in inspect.signature(ddp).parameters
        else {"broadcast_buffers": False}
    )
    return ddp(model, device_ids=[device.index] if device.type == "cuda" else None, **no_buffer_sync)


def world_size() -> int:
    """Number of processes in the group (1 without one)."""
    return dist.get_world_size() if _active() else 1


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    """Sum ``t`` over ranks in place (no-op in a single process)."""
    if _active():
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def any_rank(flags: Sequence[bool]) -> list[bool]:
    """Each flag OR-ed over ranks, so that all ranks take the same decision (e.g. to stop)."""
    if not _active():
        return list(flags)
    t = torch.tensor([int(f) for f in flags], dtype=torch.int32)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return [bool(v) for v in t.tolist()]


def broadcast_object(obj: object, src: int = 0) -> object:
    """Send a picklable object from rank ``src`` to all ranks (no-op in a single process)."""
    if _active():
        box = [obj]
        dist.broadcast_object_list(box, src=src)
        return box[0]
    return obj


def all_gather_object(obj: T) -> list[T]:
    """Every rank's ``obj``, in rank order (``[obj]`` in a single process)."""
    if not _active():
        return [obj]
    out: list[T] = [obj] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


class RankZeroFailed(RuntimeError):
    """Raised on the other ranks when rank 0 failed in :func:`main_first` with an error
    that cannot be sent to them as it is."""


def main_first(fn: Callable[[], T]) -> T:
    """Call ``fn`` on rank 0, then on the other ranks: for work that fills a shared cache
    (the other ranks find it built) or checks and creates a shared folder.

    If ``fn`` raises on rank 0, every other rank raises the same error (or
    :class:`RankZeroFailed` with its message) instead of waiting for rank 0 forever.
    """
    if not _active():
        return fn()
    if dist.get_rank() == 0:
        try:
            result = fn()
        except Exception as err:
            try:
                pickle.dumps(err)
                sent: Exception = err
            except Exception:
                sent = RankZeroFailed(f"rank 0 failed: {type(err).__name__}: {err}")
            broadcast_object(sent)
            raise
        broadcast_object(None)
        return result
    failure = broadcast_object(None)
    if isinstance(failure, Exception):
        raise failure
    return fn()
