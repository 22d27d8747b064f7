"""Validation: per-language loss and NLL on a held-out split, and the score the best checkpoint
minimises. Plain functions of a model and the data, used by the training loop."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import torch
from torch import nn

from catsmt.config import Config
from catsmt.data import MultilingualData
from catsmt.model.loss import label_smoothed_loss
from catsmt.training import distributed


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
    """The number the best checkpoint minimises: mean, token-weighted mean or worst per-language NLL."""
    nlls = [v["nll"] for v in valid.values()]
    if metric == "worst":
        return max(nlls)
    if metric == "token_weighted":
        total = sum(v["n_tokens"] for v in valid.values())
        return sum(v["nll"] * v["n_tokens"] for v in valid.values()) / max(total, 1.0)
    return sum(nlls) / len(nlls)
