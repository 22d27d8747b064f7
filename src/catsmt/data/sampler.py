"""Multilingual batches: K language slots drawn from a distribution that may change at run time.

A batch has ``K = langs_per_batch`` slots. Each slot's language is drawn i.i.d. from the
current sampling distribution ``p`` (temperature sampling, or a learned one such as
MultiDDS's), and each slot holds ``B = max_tokens // K`` padded tokens of that language, so
the expected share of a language's tokens in training is ``p_n`` exactly. A language drawn
``c`` times gets one sub-batch of ``c * B`` tokens (slots of one language are merged).

How a slot is filled is one of two *strategies*, chosen once when the sampler is built
(:class:`LengthBucketing` by default, :class:`Packing` when ``pack_len > 0``); the sampler
itself only draws slot languages, walks each language's stream and hands the pairs to it.

**Length bucketing** (:class:`LengthBucketing`). Each language reads its training pairs as
a stream, one *epoch order* after another:

1. a seeded shuffle of all pairs;
2. cut into windows of about :data:`WINDOW_SLOTS` slots' worth of pairs, each window sorted
   along a Hilbert curve through the (source length, target length) plane -- length
   bucketing that keeps *both* lengths of neighbouring pairs close, so a sub-batch pads
   little on either side;
3. each sorted window cut into groups of about :data:`GROUP_SLOTS` slots' worth, and the
   groups of the whole epoch shuffled (so batches do not follow the length order).

A slot takes the next pairs of the stream while ``n_sentences * max(padded source length,
padded target length)`` stays within its budget; at the end of a group it stops once it is
:data:`FILL_TO_CROSS` full, so pairs of two groups (different lengths) are rarely padded
together. A language drawn ``c`` times reads ``c * B`` tokens at once, from neighbouring
pairs, and with ``min_part_tokens`` they are cut into length-homogeneous parts
(:func:`split_by_length`). Measured on tatoeba-like lengths (log-normal, median 10 subwords,
target/source ratio noise 0.1-0.3) with 4096 tokens and K = 4: 100-slot windows give 87-89%
non-pad tokens, 300-slot windows 92-95% for languages of 5k pairs or more; a language of a
few hundred pairs cannot be bucketed much (about 75%) since each slot holds a tenth of it.
Slots are about 97% full on average.

**Packing** (:class:`Packing`, ``pack_len > 0``, ``data.pack``) replaces the bucketing: a
slot reads its language in plain shuffled order (one group per epoch, no Hilbert curve),
takes pairs while their summed cost fits ``B``, going on into the next epoch until it is
full, and packs them several to a row (:meth:`TaskArrays.packed_batch`), in parts of about
equal size (:func:`split_evenly`). Bucketing cannot reach a high non-pad share for a small
language -- with a few hundred pairs each slot holds a tenth of it, and its source and
target lengths vary independently -- so on tatoeba-related its batches were 81-94% non-pad;
packed ones are 95% at 4k and 32k tokens per batch, whatever the temperature.

Per-pair arrays are kept once per language: the costs, in the integer dtype
:attr:`TaskArrays.costs` gives (sums are taken in int64), and for bucketing the curve
position of each pair.

The epoch order is a function of ``(seed, language, epoch)``, so the sampler's state is
small: per language its epoch and position, the RNG that draws the slot languages, the
current distribution, and ``pack_len`` (so a state is not resumed under the other strategy).

**Under distributed training** there is still one stream of batches, the one a single
process draws: rank ``r`` of ``W`` takes batches ``r, r + W, r + 2W, ...`` of it. Every rank
draws the languages and picks the pairs of all ``W`` batches of a round (cheap index work),
and builds tensors only for its own. So the ranks read disjoint pairs, one update of ``W``
ranks sees exactly the batches of one process with ``accum_steps = W`` (docs/distributed.md),
and the state is the same on every rank and independent of ``W``: a checkpoint of a
2-process run resumes in one process and vice versa.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np

from catsmt.data.batch import Batch, LangBatch
from catsmt.data.binarize import TaskArrays
from catsmt.data.errors import DataError

WINDOW_SLOTS = 300
"""Pairs are sorted by length inside windows of about this many slots' worth."""

GROUP_SLOTS = 16
"""Sorted windows are cut into groups of about this many slots' worth, then shuffled."""

FILL_TO_CROSS = 0.5
"""A slot that reaches the end of a group stops there once it is this full (of its budget)."""

PART_FILL = 0.95
"""A language's share of a batch is cut where keeping a pair in the current part would drop
the part's non-pad share (by the slot cost measure) below this."""

_STATE_VERSION = 1

_STREAM = (0, 1)
"""Mixed into the seeds of the one batch stream. Version 1 seeded each rank's stream with
``(rank, world_size)``; these are the single-process values, so single-process runs draw
the batches they drew before ranks shared one stream."""


def check_probs(probs: Mapping[str, Any], langs: list[str]) -> np.ndarray:
    """``probs`` as an array in the order of ``langs``, renormalised to sum to exactly 1.

    Languages missing from ``probs`` get 0.

    Raises:
        DataError: an unknown language, a negative or non-finite value, or a sum far from 1.
    """
    unknown = sorted(set(probs) - set(langs))
    if unknown:
        raise DataError(
            f"sampling probabilities for unknown languages {', '.join(unknown)}; "
            f"known: {', '.join(langs)}"
        )
    values = np.array([float(probs.get(lang, 0.0)) for lang in langs], dtype=np.float64)
    bad = [lang for lang, v in zip(langs, values, strict=True) if not (math.isfinite(v) and v >= 0)]
    if bad:
        raise DataError(
            "sampling probabilities must be finite and >= 0; got "
            + ", ".join(f"{lang}={probs[lang]}" for lang in bad)
        )
    total = float(values.sum())
    if abs(total - 1.0) > 1e-3:
        raise DataError(f"sampling probabilities must sum to 1, they sum to {total:.6f}")
    return values / total


def hilbert_index(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Position of each point ``(x, y)`` on a Hilbert curve through the plane of lengths.

    Sorting pairs by it puts pairs of similar source *and* target length next to each other,
    also where the data are sparse (long sentences), which sorting by source then target
    length does not: there the target length of neighbours jumps between its extremes.
    """
    x = np.array(x, dtype=np.int64)  # a copy, changed in place below
    y = np.array(y, dtype=np.int64)
    n = 1 << max(1, int(max(int(x.max(initial=0)), int(y.max(initial=0)))).bit_length())
    d = np.zeros_like(x)
    s = n // 2
    while s > 0:  # the classic xy -> d conversion, vectorised over the points
        rx = ((x & s) > 0).astype(np.int64)
        ry = ((y & s) > 0).astype(np.int64)
        d += s * s * ((3 * rx) ^ ry)
        flip = (ry == 0) & (rx == 1)
        x = np.where(flip, n - 1 - x, x)
        y = np.where(flip, n - 1 - y, y)
        swap = ry == 0
        x, y = np.where(swap, y, x), np.where(swap, x, y)
        s //= 2
    return d


def sort_by_length(src_lengths: np.ndarray, tgt_lengths: np.ndarray) -> np.ndarray:
    """Indices that sort pairs by (source length, target length), stable."""
    return np.lexsort((tgt_lengths, src_lengths))


def length_batches(task: TaskArrays, max_tokens: int, max_sentences: int = 0) -> list[np.ndarray]:
    """Deterministic length-sorted batches of all pairs of ``task`` (for validation).

    A batch holds as many pairs as keep ``n * max(padded src, padded tgt) <= max_tokens`` and
    ``n <= max_sentences`` (when > 0); a pair longer than ``max_tokens`` forms its own batch.
    """
    order = sort_by_length(task.src.lengths, task.tgt.lengths)
    costs = task.costs[order]
    out: list[np.ndarray] = []
    start, longest = 0, 0
    for k, cost in enumerate(costs.tolist()):
        n = k - start
        longest_if_added = max(longest, cost)
        full = (n + 1) * longest_if_added > max_tokens or 0 < max_sentences <= n
        if n > 0 and full:
            out.append(order[start:k])
            start, longest_if_added = k, cost
        longest = longest_if_added
    if start < len(order):
        out.append(order[start:])
    return out


def split_by_length(indices: np.ndarray, costs: np.ndarray, min_tokens: int) -> list[np.ndarray]:
    """Cut one language's pairs into length-homogeneous parts, each to be padded on its own.

    The pairs are sorted by cost (padded length); a new part starts where the current one
    holds at least ``min_tokens`` tokens and adding the next pair would make it less than
    :data:`PART_FILL` non-pad. Large batches (e.g. 32k tokens over K = 4 slots) otherwise pad
    a whole slot to its longest pair; small ones stay one part.

    Returns:
        The parts (arrays of ``indices``' values), shortest pairs first.
    """
    order = np.argsort(costs, kind="stable")
    sorted_costs = costs[order].tolist()
    parts: list[np.ndarray] = []
    start, real = 0, 0
    for k, cost in enumerate(sorted_costs):
        n = k - start + 1
        if k > start and real >= min_tokens and n * cost > (real + cost) / PART_FILL:
            parts.append(indices[order[start:k]])
            start, real = k, 0
        real += cost
    parts.append(indices[order[start:]])
    return parts


def split_evenly(indices: np.ndarray, costs: np.ndarray, min_tokens: int) -> list[np.ndarray]:
    """Cut pairs, in their order, into as many parts of at least ``min_tokens`` tokens (by
    ``costs``) as they make, of about equal size; one part when ``min_tokens <= 0``.

    Packed batches are cut so for the same reason as padded ones are: a step's activations
    and logits scale with a part's size, and large fresh tensors cost more than they save.
    """
    total = int(costs.sum(dtype=np.int64))
    n_parts = total // min_tokens if min_tokens > 0 else 1
    if n_parts <= 1:
        return [indices]
    target = total / n_parts  # >= min_tokens
    upto = np.cumsum(costs, dtype=np.int64)  # tokens up to and including each pair
    cuts, start_tokens = [], 0
    while True:  # each part takes pairs until it holds `target` tokens
        cut = int(np.searchsorted(upto, start_tokens + target, side="left")) + 1
        if cut >= len(costs) or total - int(upto[cut - 1]) < target:
            break  # what is left is too little for a part of its own: it joins this one
        cuts.append(cut)
        start_tokens = int(upto[cut - 1])
    return np.split(indices, cuts)


class _PaddedFill:
    """How full a bucketing slot is: its pairs padded to the longest, ``n * longest``."""

    def __init__(self) -> None:
        self.n, self.longest = 0, 0

    @property
    def used(self) -> int:
        return self.n * self.longest

    def sizes(self, costs: np.ndarray) -> np.ndarray:
        """``(len(costs),)`` the fill after taking each of the next pairs, non-decreasing."""
        longest = np.maximum(np.maximum.accumulate(costs), self.longest)
        return (self.n + np.arange(1, len(costs) + 1)) * longest

    def add(self, costs: np.ndarray) -> None:
        self.n += len(costs)
        self.longest = max(self.longest, int(costs.max()))


class _PackedFill:
    """How full a packing slot is: the sum of its pairs' costs."""

    def __init__(self) -> None:
        self.used = 0

    def sizes(self, costs: np.ndarray) -> np.ndarray:
        """``(len(costs),)`` the fill after taking each of the next pairs, non-decreasing."""
        return self.used + np.cumsum(costs, dtype=np.int64)

    def add(self, costs: np.ndarray) -> None:
        self.used += int(costs.sum(dtype=np.int64))


class SlotStrategy(Protocol):
    """How a slot is filled: the order a language's pairs are read in, what fills a slot,
    where it may stop, and how its pairs become tensors. See the module docstring."""

    pack_len: int
    """Tokens per packed row and side; 0 for a strategy that pads each pair to its slot."""

    cross_fill: float
    """At the end of a group, a slot stops once it is this full (a fraction of its budget)."""

    def epoch_order(
        self, i: int, costs: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """Language ``i``'s pairs in the order of one epoch, and where its groups end."""
        ...

    def new_fill(self) -> _PaddedFill | _PackedFill:
        """The fill measure of an empty slot."""
        ...

    def parts(self, task: TaskArrays, indices: np.ndarray, costs: np.ndarray) -> list[LangBatch]:
        """The pairs ``indices`` of ``task`` (``costs``: all of the task's) as tensors."""
        ...


class LengthBucketing:
    """Pairs padded to their slot's longest, read in Hilbert-sorted windows cut into shuffled
    groups; parts cut by :func:`split_by_length` when ``min_part_tokens > 0``.

    Args:
        tasks, costs: every language's arrays and their :attr:`TaskArrays.costs`.
        slot_tokens: the budget of one slot, which sizes the windows and groups.
        min_part_tokens: see :class:`BatchSampler`.
    """

    pack_len = 0
    cross_fill = FILL_TO_CROSS

    def __init__(
        self, tasks: list[TaskArrays], costs: list[np.ndarray], slot_tokens: int, min_part_tokens: int
    ) -> None:
        self.slot_tokens, self.min_part_tokens = slot_tokens, min_part_tokens
        self._curve = [hilbert_index(t.src.lengths, t.tgt.lengths) for t in tasks]
        self._window = []
        for c in costs:
            per_slot = slot_tokens / float(c.mean())
            self._window.append(max(1, round(WINDOW_SLOTS * per_slot)))

    def epoch_order(
        self, i: int, costs: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """Shuffle, sort inside windows, cut windows into groups, shuffle the groups.

        Returns:
            The order of the pairs, and the positions where its groups end (ascending).
        """
        n, window = len(costs), self._window[i]
        perm = rng.permutation(n)
        win = np.arange(n) // window  # window of each position, before and after sorting
        order = perm[np.lexsort((self._curve[i][perm], win))]
        ordered = costs[order]
        before = np.cumsum(ordered, dtype=np.int64)
        before -= ordered  # tokens before each position
        group = (before - before[win * window]) // (GROUP_SLOTS * self.slot_tokens)
        key = win * (n + 1) + group  # non-decreasing along the order
        bounds = np.flatnonzero(np.diff(key)) + 1
        starts = np.concatenate([[0], bounds])
        ends = np.concatenate([bounds, [n]])
        shuffled = rng.permutation(len(starts))
        sizes = (ends - starts)[shuffled]
        return (
            np.concatenate([order[starts[g] : ends[g]] for g in shuffled]),
            np.cumsum(sizes),
        )

    def new_fill(self) -> _PaddedFill:
        return _PaddedFill()

    def parts(self, task: TaskArrays, indices: np.ndarray, costs: np.ndarray) -> list[LangBatch]:
        if self.min_part_tokens <= 0:
            return [task.batch(indices)]
        return [task.batch(p) for p in split_by_length(indices, costs[indices], self.min_part_tokens)]


class Packing:
    """Pairs packed several to a row of about ``pack_len`` tokens a side, read in plain
    shuffled order (one group, the epoch) until their summed cost fills the slot; parts cut
    by :func:`split_evenly`. Needs no per-pair state of its own (no Hilbert curve).

    Args:
        pack_len: tokens per row and side (> 0).
        min_part_tokens: see :class:`BatchSampler`.
    """

    cross_fill = 1.0

    def __init__(self, pack_len: int, min_part_tokens: int) -> None:
        self.pack_len, self.min_part_tokens = pack_len, min_part_tokens

    def epoch_order(
        self, i: int, costs: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """A shuffle of the pairs, as one group."""
        return rng.permutation(len(costs)), np.array([len(costs)])

    def new_fill(self) -> _PackedFill:
        return _PackedFill()

    def parts(self, task: TaskArrays, indices: np.ndarray, costs: np.ndarray) -> list[LangBatch]:
        return [
            task.packed_batch(p, self.pack_len)
            for p in split_evenly(indices, costs[indices], self.min_part_tokens)
        ]


class BatchSampler:
    """Draws :class:`Batch` es of up to K languages from ``probs``; see the module docstring.

    Args:
        tasks: task -> its training arrays (every task that can be drawn).
        probs: task -> sampling probability (missing tasks get 0).
        max_tokens: padded-token budget of a whole batch.
        langs_per_batch: K, the number of language slots.
        seed: seed of the shuffles and of the language draws.
        rank, world_size: under distributed training rank ``r`` takes batches ``r, r + W,
            ...`` of the one stream (see the module docstring).
        min_part_tokens: when > 0, a language's pairs in a batch are cut into parts of at
            least this many tokens, each padded or packed on its own: by length where that
            keeps parts at least :data:`PART_FILL` non-pad (:func:`split_by_length`), or when
            packing into parts of about equal size (:func:`split_evenly`); the pairs drawn
            are the same either way. 0 = one part per language.
        pack_len: when > 0, pack (:class:`Packing`): a slot reads its language's pairs in
            plain shuffled order, takes them while their summed cost (``max(len(src),
            len(tgt) + 1)`` each) fits its budget, and packs them several to a row of about
            this many tokens a side. 0 = length bucketing (:class:`LengthBucketing`), one
            pair per padded row.

    Raises:
        DataError: a task without pairs, a pair too long for one slot, bad ``probs``.
    """

    def __init__(
        self,
        tasks: Mapping[str, TaskArrays],
        probs: Mapping[str, float],
        *,
        max_tokens: int,
        langs_per_batch: int,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        min_part_tokens: int = 0,
        pack_len: int = 0,
    ) -> None:
        if not tasks:
            raise DataError("a batch sampler needs at least one task with training data")
        if langs_per_batch < 1:
            raise DataError(f"langs_per_batch must be >= 1, got {langs_per_batch}")
        if not 0 <= rank < world_size:
            raise DataError(f"rank must be in [0, world_size={world_size}), got {rank}")
        self.langs = sorted(tasks)
        self.tasks = [tasks[lang] for lang in self.langs]
        self.max_tokens = max_tokens
        self.langs_per_batch = langs_per_batch
        self.slot_tokens = max_tokens // langs_per_batch
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.min_part_tokens = min_part_tokens
        self._costs = [t.costs for t in self.tasks]  # (n,) each, in the dtype TaskArrays gives
        self._check_costs()
        self.strategy: SlotStrategy = (
            Packing(pack_len, min_part_tokens)
            if pack_len > 0
            else LengthBucketing(self.tasks, self._costs, self.slot_tokens, min_part_tokens)
        )
        self._probs = check_probs(probs, self.langs)
        self._rng = np.random.Generator(
            np.random.PCG64(np.random.SeedSequence([seed, *_STREAM, 0xBA7C4]))
        )
        self._epoch = [0] * len(self.langs)
        self._cursor = [0] * len(self.langs)
        self._orders: dict[int, tuple[int, np.ndarray, np.ndarray]] = {}
        self.n_batches = 0

    @property
    def pack_len(self) -> int:
        """Tokens per packed row and side; 0 when the sampler buckets by length."""
        return self.strategy.pack_len

    def _check_costs(self) -> None:
        for lang, costs in zip(self.langs, self._costs, strict=True):
            if len(costs) == 0:
                raise DataError(f"language '{lang}' has no training pairs to sample from")
            if int(costs.max()) > self.slot_tokens:
                raise DataError(
                    f"a training pair of '{lang}' needs {int(costs.max())} padded tokens but "
                    f"a slot holds max_tokens // langs_per_batch = {self.slot_tokens}; raise max_tokens "
                    "or lower max_len or langs_per_batch"
                )

    # -- the distribution ---------------------------------------------------------------
    @property
    def probs(self) -> dict[str, float]:
        """The current sampling distribution."""
        return {lang: float(p) for lang, p in zip(self.langs, self._probs, strict=True)}

    def set_probs(self, probs: Mapping[str, float]) -> None:
        """Replace the sampling distribution for the following batches.

        Raises:
            DataError: unknown languages, negative values, or a sum far from 1.
        """
        self._probs = check_probs(probs, self.langs)

    # -- batches ---------------------------------------------------------------------------
    def next_batch(self) -> Batch:
        """This rank's next batch: of the next ``world_size`` batches of the stream, the
        ``rank``-th (the others are drawn, so that their pairs are skipped, but not built)."""
        mine: list[tuple[int, np.ndarray]] = []
        for r in range(self.world_size):
            slots = self._draw()
            if r == self.rank:
                mine = slots
        return Batch([
            part
            for i, idx in mine
            for part in self.strategy.parts(self.tasks[i], idx, self._costs[i])
        ])

    def _draw(self) -> list[tuple[int, np.ndarray]]:
        """The next batch of the stream as (language, pair indices): K slot languages drawn
        from the current distribution, each filled from its language's stream."""
        draws = self._rng.choice(len(self.langs), size=self.langs_per_batch, p=self._probs)
        counts = np.bincount(draws, minlength=len(self.langs))
        slots = [
            (i, self._take(i, int(c) * self.slot_tokens))
            for i, c in enumerate(counts.tolist())
            if c > 0
        ]
        self.n_batches += 1
        return slots

    def __iter__(self) -> BatchSampler:
        return self

    def close(self) -> None:
        """Nothing to release (see :class:`catsmt.data.prefetch.PrefetchingSampler`)."""

    def __next__(self) -> Batch:
        return self.next_batch()

    def epochs(self) -> dict[str, float]:
        """How far each language's stream has got, in epochs (for logging)."""
        return {
            lang: e + c / len(costs)
            for lang, e, c, costs in zip(
                self.langs, self._epoch, self._cursor, self._costs, strict=True
            )
        }

    def _order(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Language ``i``'s current epoch order and group ends (kept until the epoch ends)."""
        cached = self._orders.get(i)
        if cached is None or cached[0] != self._epoch[i]:
            cached = (self._epoch[i], *self._epoch_order(i, self._epoch[i]))
            self._orders[i] = cached
        return cached[1], cached[2]

    def _epoch_order(self, i: int, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        """The strategy's order of language ``i``'s pairs in ``epoch``, seeded by both."""
        rng = np.random.default_rng(
            np.random.SeedSequence([self.seed, *_STREAM, i, epoch])
        )
        return self.strategy.epoch_order(i, self._costs[i], rng)

    def _take(self, i: int, budget: int) -> np.ndarray:
        """The next pairs of language ``i``'s stream that fit ``budget`` tokens by the
        strategy's fill measure (padded, or summed when packing).

        A slot that reaches the end of a group stops there once it is the strategy's
        ``cross_fill`` full (bucketing: :data:`FILL_TO_CROSS`, so that pairs of different
        groups, of different lengths, are rarely padded together); otherwise it reads on,
        into the next epoch if need be.
        """
        taken: list[np.ndarray] = []
        fill = self.strategy.new_fill()
        costs = self._costs[i]
        while True:
            order, group_ends = self._order(i)
            pos = self._cursor[i]
            end = int(group_ends[np.searchsorted(group_ends, pos, side="right")])
            seg = order[pos : min(end, pos + max(0, budget - fill.used))]  # each pair costs >= 1
            seg_costs = costs[seg]
            k = int(np.searchsorted(fill.sizes(seg_costs), budget, side="right"))
            if k > 0:
                taken.append(seg[:k])
                fill.add(seg_costs[:k])
            self._cursor[i] = pos + k
            if self._cursor[i] >= len(order):
                self._epoch[i] += 1
                self._cursor[i] = 0
            if pos + k != end or fill.used >= self.strategy.cross_fill * budget:
                break
        return np.concatenate(taken)

    # -- state -------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue exactly: per-language epoch and position, the RNG
        that draws languages and the current distribution (plain Python data only, so a
        checkpoint loads with ``torch.load(weights_only=True)``), and ``pack_len`` (0 when
        bucketing). It describes the one stream, so it is the same on every rank and loads
        into a sampler of any ``world_size``; ``n_batches`` counts the stream's batches."""
        return {
            "version": _STATE_VERSION,
            "langs": list(self.langs),
            "sizes": [len(c) for c in self._costs],
            "max_tokens": self.max_tokens,
            "langs_per_batch": self.langs_per_batch,
            "seed": self.seed,
            "pack_len": self.pack_len,
            "epoch": list(self._epoch),
            "cursor": list(self._cursor),
            "probs": [float(p) for p in self._probs],
            "rng": _plain(self._rng.bit_generator.state),
            "n_batches": self.n_batches,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore :meth:`state_dict`.

        A state without ``pack_len`` (written before the state recorded it, by a sampler
        built from the same config) is taken to match.

        Raises:
            DataError: the state belongs to a sampler over other data or settings.
        """
        if state.get("version") != _STATE_VERSION:
            raise DataError(
                f"sampler state has version {state.get('version')}, expected {_STATE_VERSION}"
            )
        mine = self.state_dict()
        for name in ("langs", "sizes", "max_tokens", "langs_per_batch", "seed"):
            if _as_list(state[name]) != mine[name]:
                raise DataError(
                    f"sampler state was saved with {name}={state[name]}, this sampler has "
                    f"{name}={mine[name]}; resume with the same data and settings"
                )
        if "pack_len" in state and int(state["pack_len"]) != self.pack_len:
            raise DataError(
                f"sampler state was saved by a sampler that {_describe(int(state['pack_len']))}, "
                f"this one {_describe(self.pack_len)}; resume with the same data.pack and "
                "data.pack_len"
            )
        self._epoch = [int(e) for e in state["epoch"]]
        self._cursor = [int(c) for c in state["cursor"]]
        self._probs = check_probs(dict(zip(self.langs, state["probs"], strict=True)), self.langs)
        self._rng.bit_generator.state = dict(state["rng"])
        self.n_batches = int(state["n_batches"])


def _describe(pack_len: int) -> str:
    """A sampler's strategy in words, for an error message."""
    if pack_len > 0:
        return f"packs rows of pack_len={pack_len}"
    return "buckets by length (pack_len=0, no packing)"


def _as_list(value: Any) -> Any:
    """Tuples (as some loaders return) compared as lists."""
    return list(value) if isinstance(value, tuple) else value


def _plain(value: Any) -> Any:
    """Numpy scalars and containers as plain Python data."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
