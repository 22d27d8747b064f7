"""Draw the next batch in a background thread while the current step runs.

Building a batch is index work and numpy (packing a 32k-token batch takes 7-10 ms on our
CPU), time a GPU would otherwise wait. :class:`PrefetchingSampler` wraps a
:class:`~catsmt.data.sampler.BatchSampler` and keeps one batch drawn ahead, without changing
which batches a run sees:

* the batch ahead is drawn with the distribution of the batch before it; when
  :meth:`set_probs` then changes the distribution (MultiDDS does, at its update steps), that
  batch is dropped, the sampler is put back to its state before drawing it, and the batch is
  drawn again with the new distribution -- as a sampler without prefetching would draw it;
* :meth:`state_dict` is the state after the last batch handed out, not after the one drawn
  ahead, so a checkpoint resumes exactly where the run was.

Only the worker thread touches the wrapped sampler while a draw is pending; every method
here waits for it first.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from catsmt.data.batch import Batch
from catsmt.data.sampler import BatchSampler, check_probs


class PrefetchingSampler:
    """A :class:`BatchSampler` that draws one batch ahead in a thread; same interface."""

    def __init__(self, sampler: BatchSampler) -> None:
        self.sampler = sampler
        self._raw: dict[str, float] = sampler.probs  # as given, for the sampler's own check
        self._probs = np.array(list(self._raw.values()))
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="catsmt-batches")
        self._pending: Future[tuple[dict[str, Any], Batch]] | None = None
        self._pending_probs = self._probs

    @property
    def langs(self) -> list[str]:
        return self.sampler.langs

    @property
    def probs(self) -> dict[str, float]:
        return {lang: float(p) for lang, p in zip(self.sampler.langs, self._probs, strict=True)}

    def set_probs(self, probs: Mapping[str, float]) -> None:
        """The distribution of the following batches (checked as the sampler checks it)."""
        self._probs = check_probs(probs, self.sampler.langs)
        self._raw = dict(probs)

    def next_batch(self) -> Batch:
        batch = None
        if self._pending is not None:
            drawn_with = self._pending_probs
            before, batch = self._take_pending()
            if not np.array_equal(drawn_with, self._probs):
                self.sampler.load_state_dict(before)  # as if that batch had not been drawn
                batch = None
        if batch is None:
            batch = self._draw(self._raw)[1]
        self._pending = self._pool.submit(self._draw, dict(self._raw))
        self._pending_probs = self._probs
        return batch

    def _draw(self, probs: Mapping[str, float]) -> tuple[dict[str, Any], Batch]:
        self.sampler.set_probs(probs)
        before = self.sampler.state_dict()
        return before, self.sampler.next_batch()

    def _take_pending(self) -> tuple[dict[str, Any], Batch]:
        assert self._pending is not None
        pending, self._pending = self._pending, None
        return pending.result()  # re-raises an error of the draw

    def __iter__(self) -> PrefetchingSampler:
        return self

    def __next__(self) -> Batch:
        return self.next_batch()

    def epochs(self) -> dict[str, float]:
        return self._settled().epochs()

    def state_dict(self) -> dict[str, Any]:
        """The state after the last batch handed out (see the module docstring)."""
        if self._pending is None:
            return self.sampler.state_dict()
        return self._pending.result()[0]

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if self._pending is not None:
            self._take_pending()
        self.sampler.load_state_dict(state)
        self._raw = self.sampler.probs
        self._probs = np.array(list(self._raw.values()))

    def _settled(self) -> BatchSampler:
        """The sampler as of the last batch handed out (drops the batch drawn ahead)."""
        if self._pending is not None:
            before, _ = self._take_pending()
            self.sampler.load_state_dict(before)
        return self.sampler

    def close(self) -> None:
        """Stop the worker thread (after the draw in progress)."""
        self._pool.shutdown(wait=True)
