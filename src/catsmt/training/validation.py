"""Validation: per-language loss and NLL on a held-out split, optionally BLEU and chrF of greedy
translations, and the score that chooses the best checkpoint. Plain functions of a model and
the data, used by the training loop."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from typing import cast

import torch
from torch import nn

from catsmt.config import Config
from catsmt.data import MultilingualData
from catsmt.decoding.config import DecodeConfig
from catsmt.decoding.translate import translate_ids
from catsmt.evaluation.scores import score_language
from catsmt.model import Transformer
from catsmt.model.loss import label_smoothed_loss
from catsmt.training import distributed
from catsmt.training.config import SCORE_METRICS


def validation_losses(
    model: nn.Module,
    data: MultilingualData,
    cfg: Config,
    device: torch.device,
    autocast: Callable[[], contextlib.AbstractContextManager[None]],
    split: str = "valid",
) -> dict[str, dict[str, float]]:
    """Per-language label-smoothed loss and NLL (per token) on ``split``.

    Under DDP the batches are shared out over ranks and the sums all-reduced.
    """
    was_training = model.training
    model.eval()
    info = distributed.detect()
    sums = torch.zeros(len(data.langs), 3, dtype=torch.float64)
    with torch.inference_mode():
        for i, lang in enumerate(data.langs):
            batches = data.batches(split, lang, cfg.data.max_tokens, cfg.train.valid_max_sentences)
            for j, part in enumerate(batches):
                if j % info.world_size != info.rank:
                    continue
                part = part.to(device)
                with autocast():
                    logits = model(*part.inputs)
                loss, nll, count = label_smoothed_loss(logits, part.tgt_out, part.pad_id, cfg.train.label_smoothing)
                sums[i] += torch.tensor([float(loss), float(nll), float(count)], dtype=torch.float64)
    distributed.all_reduce_sum(sums)
    model.train(was_training)
    out: dict[str, dict[str, float]] = {}
    for i, lang in enumerate(data.langs):
        total = max(float(sums[i, 2]), 1.0)
        out[lang] = {"loss": float(sums[i, 0]) / total, "nll": float(sums[i, 1]) / total, "n_tokens": float(sums[i, 2])}
    return out


def selection_score(valid: dict[str, dict[str, float]], metric: str) -> float:
    """The number that chooses the best checkpoint: mean, token-weighted mean or worst
    per-language NLL (lower is better), or mean BLEU or chrF (higher is better; see
    :func:`is_better`)."""
    if metric in SCORE_METRICS:
        return sum(v[metric] for v in valid.values()) / len(valid)
    nlls = [v["nll"] for v in valid.values()]
    if metric == "worst":
        return max(nlls)
    if metric == "token_weighted":
        total = sum(v["n_tokens"] for v in valid.values())
        return sum(v["nll"] * v["n_tokens"] for v in valid.values()) / max(total, 1.0)
    return sum(nlls) / len(nlls)


def is_better(score: float, best: float, metric: str) -> bool:
    """Whether ``score`` beats ``best`` (``inf`` or ``-inf`` before any validation) under ``metric``."""
    if metric in SCORE_METRICS:
        return score > best or best == math.inf
    return score < best


def validation_scores(
    model: nn.Module, data: MultilingualData, cfg: Config, device: torch.device, split: str = "valid"
) -> dict[str, dict[str, float]]:
    """Per-language BLEU and chrF of greedy translations of the first
    ``train.valid_bleu_sentences`` sentences of ``split`` (sacreBLEU, as ``catsmt evaluate``).

    Run on rank 0 only; the loop broadcasts the result so every rank picks the same best.
    """
    decode = DecodeConfig(beam=1, batch_tokens=cfg.decode.batch_tokens, max_len_a=cfg.decode.max_len_a,
                          max_len_b=cfg.decode.max_len_b)
    out: dict[str, dict[str, float]] = {}
    for lang in data.langs:
        srcs, refs = data.raw(split, lang)
        n = min(len(srcs), cfg.train.valid_bleu_sentences)
        ids = translate_ids(cast(Transformer, model), data.encode_source(srcs[:n], lang), [data.target_tag(lang)] * n, decode,
                            data.vocab.eos_id, data.vocab.pad_id, device)
        scores = score_language([" ".join(data.vocab.decode(h).splitlines()) for h in ids], refs[:n])
        out[lang] = {"bleu": scores["bleu"], "chrf": scores["chrf"], "sentences": float(n)}
    return out
