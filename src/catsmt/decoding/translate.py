"""Translate many sentences: length-sorted, token-budgeted batches, results in input order."""

from __future__ import annotations

import torch

from catsmt.decoding.config import DecodeConfig
from catsmt.decoding.search import search_for
from catsmt.model.transformer import Transformer


def make_batches(lengths: list[int], batch_tokens: int) -> list[list[int]]:
    """Group sentence indices, longest first, so that ``n_sentences * longest <= batch_tokens``.

    A sentence longer than ``batch_tokens`` gets a batch of its own.
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        # Sorted longest first, so the batch's padded width is the length of its first sentence.
        width = lengths[current[0]] if current else lengths[i]
        if current and (len(current) + 1) * width > batch_tokens:
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


def fit_sources(sources: list[list[int]], limit: int) -> tuple[list[list[int]], list[int]]:
    """Sources cut to at most ``limit`` tokens, the longest the model's positions cover.

    A longer source keeps its first ``limit - 1`` tokens (the language tag first, when there
    is one) and its last, ``</s>``, so the model still sees a finished sentence.

    Returns:
        The sources (the short ones unchanged), and the indices of those that were cut.
    """
    if limit < 2:
        raise ValueError(f"limit must be >= 2 (a token and </s>), got {limit}")
    cut = [i for i, s in enumerate(sources) if len(s) > limit]
    fitted = list(sources)
    for i in cut:
        fitted[i] = sources[i][: limit - 1] + sources[i][-1:]
    return fitted, cut


def translate_ids(
    model: Transformer,
    sources: list[list[int]],
    bos_ids: list[int],
    cfg: DecodeConfig,
    eos_id: int,
    pad_id: int,
    device: torch.device | str,
) -> list[list[int]]:
    """Translate token-id sentences; greedy when ``cfg.beam == 1``, else beam search.

    Args:
        model: the translation model, already on ``device``.
        sources: source sentences as ids (tag and ``</s>`` included, as the model was trained).
        bos_ids: per sentence, the first decoder input (the target-language tag id).
        cfg: beam size, length penalty, maximum output length ``max_len_a * len + max_len_b``
            (``len`` = source length in tokens; capped by the model's ``max_positions``) and
            ``batch_tokens`` per batch.
        eos_id: end-of-sentence id.
        pad_id: padding id.
        device: where to run.

    Returns:
        One list of output ids per source, in the input order, without tag and ``</s>``.

    Raises:
        ValueError: when ``bos_ids`` and ``sources`` differ in length, a source is empty, or
            one is longer than the model's ``max_positions`` (see :func:`fit_sources`).
    """
    if len(bos_ids) != len(sources):
        raise ValueError(f"{len(sources)} sources but {len(bos_ids)} bos_ids")
    limit = model.cfg.max_positions
    for i, s in enumerate(sources):
        if not s:
            raise ValueError(f"source sentence {i} is empty (it should at least hold </s>)")
        if len(s) > limit:
            raise ValueError(
                f"source sentence {i} has {len(s)} tokens, more than the model's "
                f"max_positions={limit}; cut it first (fit_sources)"
            )
    lengths = [len(s) for s in sources]
    results: list[list[int]] = [[] for _ in sources]
    search = search_for(cfg)
    for batch in make_batches(lengths, cfg.batch_tokens):
        width = max(lengths[i] for i in batch)
        src = torch.full((len(batch), width), pad_id, dtype=torch.long)  # (B, S)
        for row, i in enumerate(batch):
            src[row, : lengths[i]] = torch.tensor(sources[i], dtype=torch.long)
        src = src.to(device)
        bos = torch.tensor([bos_ids[i] for i in batch], dtype=torch.long, device=device)  # (B,)
        longest = model.cfg.max_positions - 1  # the decoder input holds the tag, then the output
        max_len = torch.tensor(
            [min(int(cfg.max_len_a * lengths[i] + cfg.max_len_b), longest) for i in batch],
            dtype=torch.long,
            device=device,
        )  # (B,)
        hyps = search(model, src, bos, eos_id, pad_id, max_len, cfg)
        for i, hyp in zip(batch, hyps, strict=True):
            results[i] = hyp
    return results
