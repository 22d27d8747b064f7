"""Worker processes for data preparation: an ordered, bounded map over a process pool.

:func:`ordered_map` applies a module-level function to items over ``workers`` processes and
yields the results **in the items' order**, with at most two items per worker in flight, so
a caller that writes the results as they come gets the same output for any number of
workers and holds only a few results at a time. An exception raised for an item is raised
when that item's turn comes, so the first error in item order is the one reported. Workers
are forked on Linux (fast: nothing is re-imported; they run only numpy and SentencePiece)
and spawned elsewhere, and die with their parent, so a killed preparation leaves none behind.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def default_workers() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _context() -> multiprocessing.context.BaseContext:
    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _start_worker(initializer: Callable[..., object] | None, initargs: tuple[Any, ...]) -> None:
    if sys.platform.startswith("linux"):  # die with the parent (a killed build leaves no workers)
        import ctypes
        import signal

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if initializer is not None:
        initializer(*initargs)


def ordered_map(
    fn: Callable[[T], R],
    items: Iterable[T],
    workers: int,
    initializer: Callable[..., object] | None = None,
    initargs: tuple[Any, ...] = (),
) -> Generator[R, None, None]:
    """``fn(item)`` for every item, in order, over ``workers`` processes.

    With ``workers <= 1`` or a single item, runs in this process (``initializer`` is then not
    called: the caller has what it needs here). ``fn`` and ``initializer`` must be
    module-level functions (they are pickled by name for spawned workers).
    """
    items = list(items)
    if workers <= 1 or len(items) <= 1:
        for item in items:
            yield fn(item)
        return
    workers = min(workers, len(items))
    pending: deque[Future[R]] = deque()
    with ProcessPoolExecutor(workers, mp_context=_context(), initializer=_start_worker,
                             initargs=(initializer, initargs)) as pool:
        try:
            for item in items:
                if len(pending) >= 2 * workers:
                    yield pending.popleft().result()
                pending.append(pool.submit(fn, item))
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()
