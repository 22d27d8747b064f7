"""Greedy and beam search over a :class:`~catsmt.model.Transformer`, batched, with a KV cache.

Both searches start the decoder from a per-sentence target-language tag (``bos``), never
emit padding, and stop a sentence at ``</s>`` or after ``max_len`` tokens (a sentence that
reaches ``max_len`` tokens is ended there, as if ``</s>`` were forced: beam search then adds
the ``</s>`` log-probability to its score, as fairseq does). They return token ids without
the tag and without ``</s>``.

Beam search follows fairseq's ``SequenceGenerator``: at each step the ``2 * beam`` best
extensions are ranked; those ending in ``</s>`` among the first ``beam`` become finished
hypotheses, scored ``sum(log p) / len ** lenpen`` with ``len`` counting the ``</s>``; the
first ``beam`` others stay live. A sentence is done when it has ``beam`` finished
hypotheses and no live hypothesis, scored as if it ended at its current length, beats the
best finished one (with ``lenpen = 0`` this bound is exact, since log-probabilities only
add up; otherwise it is the usual heuristic), or when it reaches its maximum length.
Done sentences leave the batch, so the decoder runs on the live ones only.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from catsmt.decoding.config import DecodeConfig
from catsmt.model.transformer import Transformer


def _max_len_tensor(max_len: Tensor | int, n: int, device: torch.device) -> Tensor:
    """``(n,)`` long maximum output lengths from an int or a ``(n,)`` tensor."""
    out = torch.as_tensor(max_len, dtype=torch.long, device=device)
    if out.dim() == 0:
        out = out.expand(n)
    if out.shape != (n,):
        raise ValueError(f"max_len must be an int or have shape ({n},), got {tuple(out.shape)}")
    if bool((out < 0).any()):
        raise ValueError("max_len must be >= 0")
    return out


def greedy_search(
    model: Transformer, src: Tensor, bos: Tensor, eos_id: int, pad_id: int, max_len: Tensor | int
) -> list[list[int]]:
    """Pick the most probable token at each step.

    Args:
        model: the translation model (put in eval mode for the call, then restored).
        src: ``(B, S)`` source ids, right-padded with ``pad_id``.
        bos: ``(B,)`` the first decoder input of each sentence (its target-language tag).
        eos_id: end-of-sentence id.
        pad_id: padding id (never generated).
        max_len: the maximum number of output tokens (without ``</s>``), an int or ``(B,)``.

    Returns:
        ``B`` lists of output ids, without the tag and ``</s>``.
    """
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            return _greedy(model, src, bos, eos_id, pad_id, max_len)
    finally:
        model.train(was_training)


def _greedy(
    model: Transformer, src: Tensor, bos: Tensor, eos_id: int, pad_id: int, max_len: Tensor | int
) -> list[list[int]]:
    B = src.size(0)
    limit = _max_len_tensor(max_len, B, src.device)
    out: list[list[int]] = [[] for _ in range(B)]
    enc = model.encode(src)
    cache = model.new_cache(enc)
    sent = torch.arange(B, device=src.device)  # original index of each live row
    last = bos.to(src.device).view(B, 1)  # (n, 1)
    step = 0
    while sent.numel() > 0:
        live = limit[sent] > step  # (n,) rows that may still emit a token
        logits, cache = model.decode(last, enc, cache)  # (n, 1, V)
        logits = logits[:, -1].float()  # (n, V)
        logits[:, pad_id] = float("-inf")
        token = logits.argmax(dim=-1)  # (n,)
        token = token.masked_fill(~live, eos_id)
        for i, t in zip(sent.tolist(), token.tolist(), strict=True):
            if t != eos_id:
                out[i].append(t)
        keep = token.ne(eos_id).nonzero().squeeze(1)  # (n',)
        if keep.numel() < sent.numel():
            sent, enc = sent[keep], enc.select(keep)
            cache = model.reorder_cache(cache, keep)
            token = token[keep]
        last = token.view(-1, 1)
        step += 1
    return out


def beam_search(
    model: Transformer,
    src: Tensor,
    bos: Tensor,
    eos_id: int,
    pad_id: int,
    beam: int,
    lenpen: float,
    max_len: Tensor | int,
) -> list[list[int]]:
    """Beam search with fairseq's length penalty (see the module docstring).

    Args:
        model: the translation model (put in eval mode for the call, then restored).
        src: ``(B, S)`` source ids, right-padded with ``pad_id``.
        bos: ``(B,)`` the first decoder input of each sentence (its target-language tag).
        eos_id: end-of-sentence id.
        pad_id: padding id (never generated).
        beam: beam size (>= 1).
        lenpen: length penalty alpha: a finished hypothesis scores ``sum log p / len**alpha``.
        max_len: the maximum number of output tokens (without ``</s>``), an int or ``(B,)``.

    Returns:
        ``B`` lists of ids of the best hypothesis, without the tag and ``</s>``.
    """
    if beam < 1:
        raise ValueError(f"beam must be >= 1, got {beam}")
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            return _beam(model, src, bos, eos_id, pad_id, beam, lenpen, max_len)
    finally:
        model.train(was_training)


def _beam(
    model: Transformer,
    src: Tensor,
    bos: Tensor,
    eos_id: int,
    pad_id: int,
    K: int,
    lenpen: float,
    max_len: Tensor | int,
) -> list[list[int]]:
    B, device = src.size(0), src.device
    V = model.vocab_size
    limit = _max_len_tensor(max_len, B, device)
    finished: list[list[tuple[float, list[int]]]] = [[] for _ in range(B)]

    rows = torch.arange(B, device=device).repeat_interleave(K)  # (B*K,)
    enc = model.encode(src).select(rows)  # every sentence's encoding repeated K times
    cache = model.new_cache(enc)
    sent = torch.arange(B, device=device)  # (n,) original index of each live sentence
    tokens = bos.to(device)[rows].view(B * K, 1)  # (n*K, t+1) tag, then the hypothesis
    scores = torch.full((B, K), float("-inf"), device=device)  # (n, K) sum of log-probs
    scores[:, 0] = 0.0  # the K initial beams are identical; expand only the first
    ranks = torch.arange(2 * K, device=device)  # (2K,)

    step = 0
    while sent.numel() > 0:
        n = sent.numel()
        logits, cache = model.decode(tokens[:, -1:], enc, cache)  # (n*K, 1, V)
        lprobs = torch.log_softmax(logits[:, -1].float(), dim=-1)  # (n*K, V)
        lprobs[:, pad_id] = float("-inf")
        lprobs = lprobs.view(n, K, V)  # (n, K, V)
        at_limit = limit[sent] <= step  # (n,) these sentences may only end now
        if bool(at_limit.any()):
            only_eos = torch.full_like(lprobs, float("-inf"))
            only_eos[..., eos_id] = lprobs[..., eos_id]
            lprobs = torch.where(at_limit.view(n, 1, 1), only_eos, lprobs)

        cand = (scores.unsqueeze(-1) + lprobs).view(n, K * V)  # (n, K*V)
        top_scores, top_idx = cand.topk(2 * K, dim=1)  # (n, 2K), best first
        top_beam = top_idx // V  # (n, 2K) which live hypothesis each extends
        top_token = top_idx % V  # (n, 2K)
        is_eos = top_token.eq(eos_id) & top_scores.isfinite()  # (n, 2K)

        # Hypotheses ending in </s> among the first K candidates are finished.
        length = step + 1  # output tokens, counting </s>
        for i, j in is_eos[:, :K].nonzero().tolist():
            hyp = tokens[i * K + int(top_beam[i, j]), 1:].tolist()
            score = float(top_scores[i, j]) / length**lenpen
            finished[int(sent[i])].append((score, hyp))

        # The first K candidates that do not end in </s> stay live.
        pick = (is_eos.long() * 2 * K + ranks).topk(K, dim=1, largest=False).indices  # (n, K)
        new_scores = top_scores.gather(1, pick).masked_fill(is_eos.gather(1, pick), float("-inf"))
        new_beam = top_beam.gather(1, pick)  # (n, K)
        new_token = top_token.gather(1, pick)  # (n, K)

        # Done: K finished and no live one beats the best finished; the limit; nothing live.
        n_finished = torch.tensor([len(finished[i]) for i in sent.tolist()], device=device)
        best_finished = torch.tensor(
            [max((s for s, _ in finished[i]), default=float("-inf")) for i in sent.tolist()],
            device=device,
        )  # (n,)
        best_live = new_scores.max(dim=1).values / length**lenpen  # (n,)
        done = at_limit | ((n_finished >= K) & (best_finished >= best_live))  # (n,)
        done |= ~new_scores.isfinite().any(dim=1)

        keep = (~done).nonzero().squeeze(1)  # (n',) live sentences
        rows = (keep.view(-1, 1) * K + new_beam[keep]).view(-1)  # (n'*K,) rows to extend
        tokens = torch.cat([tokens[rows], new_token[keep].view(-1, 1)], dim=1)  # (n'*K, t+2)
        scores = new_scores[keep]  # (n', K)
        if keep.numel() == n:  # beams reordered within their sentences: same sources
            cache = model.reorder_cache(cache, rows, same_sources=True)
        else:
            sent = sent[keep]
            enc = enc.select(rows)
            cache = model.reorder_cache(cache, rows)
        step += 1

    return [max(hyps, key=lambda h: h[0])[1] if hyps else [] for hyps in finished]


#: A search: ``(model, src, bos, eos_id, pad_id, max_len, cfg) -> token ids per sentence``.
Search = Callable[[Transformer, Tensor, Tensor, int, int, Tensor, DecodeConfig], list[list[int]]]

#: Every decoding strategy by name; :func:`search_for` picks one from a decode config. A new
#: strategy is a function here, an entry in this dict, and (for its options) a DecodeConfig field.
SEARCHES: dict[str, Search] = {
    "greedy": lambda model, src, bos, eos_id, pad_id, max_len, cfg: greedy_search(
        model, src, bos, eos_id, pad_id, max_len
    ),
    "beam": lambda model, src, bos, eos_id, pad_id, max_len, cfg: beam_search(
        model, src, bos, eos_id, pad_id, cfg.beam, cfg.lenpen, max_len
    ),
}


def search_for(cfg: DecodeConfig) -> Search:
    """The search a decode config asks for: greedy at beam size 1 (the same result as a beam
    of one, faster), else beam search."""
    return SEARCHES["greedy" if cfg.beam == 1 else "beam"]
