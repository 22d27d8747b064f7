"""Measure a model's curvature and gradient similarity per language on fixed batches.

Used in two places: during training every ``train.analysis_every`` updates (events
``{"event": "curvature", ...}`` and ``{"event": "gradsim", ...}`` in ``metrics.jsonl``), and
afterwards by ``catsmt analyze RUN`` over a run's saved checkpoints.

Each language gets one fixed batch, so measurements at different steps and for different
methods see the same sentences: of its validation data (the first length-sorted batch), or,
with ``split="train"``, of its training data (a fixed random sample: the paper measures
λ_max and gradient similarity on training examples, Section 4.1). The
model is measured in eval mode, in fp32, through the plain-math attention path
(:func:`~catsmt.analysis.curvature.measurement_mode`).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from catsmt.analysis.curvature import measurement_mode, top_eigenvalue
from catsmt.analysis.gradsim import (
    aggregate_by_pairing,
    cosine,
    magnitude_similarity,
    similarity_by_group,
)
from catsmt.data.batch import LangBatch
from catsmt.model.loss import label_smoothed_loss
from catsmt.weighting.grads import flat_grad, param_slices, trainable

PROBE_SPLITS = ("valid", "train")
#: what :func:`measure` can measure
ANALYSES = ("curvature", "gradsim", "selfsim")


@dataclass
class ProbeBatches:
    """One fixed batch per language."""

    parts: dict[str, LangBatch]
    split: str = "valid"
    #: a second batch per language, disjoint from the first, for ``selfsim``
    twins: dict[str, LangBatch] | None = None

    @classmethod
    def from_data(cls, data: Any, langs: Sequence[str], max_tokens: int = 1024, max_sentences: int = 64,
                  split: str = "valid", twins: bool = False) -> ProbeBatches:
        """One deterministic batch per language: the first length-sorted validation batch, or
        (``split="train"``) a fixed random batch of training pairs. With ``twins``, a second
        disjoint batch of each (the next length-sorted one, or the next random one), when the
        language has enough pairs.

        Raises:
            ValueError: ``split`` is neither.
        """
        if split not in PROBE_SPLITS:
            raise ValueError(f"the analysis split must be valid or train, got '{split}'")
        parts, second = {}, {}
        for lang in langs:
            if split == "train":
                batches = data.sample_batches("train", lang, max_tokens, max_sentences, seed=0, count=2 if twins else 1)
            else:
                batches = list(itertools.islice(data.batches("valid", lang, max_tokens, max_sentences), 2 if twins else 1))
            parts[lang] = batches[0]
            if len(batches) > 1:
                second[lang] = batches[1]
        return cls(parts, split, second if twins else None)


def _loss_fn(model: nn.Module, part: LangBatch) -> Any:
    def loss() -> Tensor:
        logits = model(*part.inputs)
        total, _, n = label_smoothed_loss(logits, part.tgt_out, part.pad_id, 0.0)
        return total / n.clamp_min(1)

    return loss


def _gradient(model: nn.Module, params: Sequence[nn.Parameter], loss_fn: Any) -> tuple[float, Tensor]:
    """The loss and the flat gradient of ``loss_fn``, leaving no gradient behind."""
    model.zero_grad(set_to_none=True)
    loss = loss_fn()
    loss.backward()
    g = flat_grad(params).clone()
    model.zero_grad(set_to_none=True)
    return float(loss.detach()), g


def measure(
    model: nn.Module,
    probes: ProbeBatches,
    groups: dict[str, str],
    step: int,
    device: torch.device,
    what: Sequence[str] = ("curvature", "gradsim"),
    iters: int = 20,
) -> list[dict[str, Any]]:
    """Events for ``metrics.jsonl``: per-language ``lambda_max`` and gradient norm, and
    gradient similarity per language pair, parameter group and resource pairing.

    Args:
        model: the (unwrapped) model; its state and gradients are restored afterwards.
        probes: the fixed per-language batches.
        groups: language -> ``"low"``/``"high"`` (for the pairing aggregation).
        step: the training step the model is at.
        device: where the batches go.
        what: ``curvature`` (λ_max by power iteration, the paper's Figure 2 top) and/or
            ``gradsim`` (cosine and magnitude similarity, Figures 2 bottom, 3, 5) and/or
            ``selfsim`` (the whole-model similarity of each language's gradients on its two
            probe batches: what batch noise alone leaves of the cosine; needs ``twins``).
        iters: power-iteration steps.
    """
    events: list[dict[str, Any]] = []
    params = trainable(model.parameters())
    langs = list(probes.parts)
    with measurement_mode(model):
        grads = []
        for lang in langs:
            loss_fn = _loss_fn(model, probes.parts[lang].to(device))
            where = {"step": step, "lang": lang, "group": groups.get(lang), "split": probes.split}
            if "curvature" in what:
                eig = top_eigenvalue(loss_fn, params, iters=iters)
                events.append({"event": "curvature", **where, "lambda_max": eig.value,
                               "converged": eig.converged, "iterations": eig.iterations})
            loss, g = _gradient(model, params, loss_fn)
            grads.append(g)
            if "selfsim" in what and probes.twins and lang in probes.twins:
                # the noise ceiling of gradient similarity: the same language on two disjoint batches
                _, h = _gradient(model, params, _loss_fn(model, probes.twins[lang].to(device)))
                events.append({"event": "gradsim_self", **where, "cos": cosine(g, h), "mag": magnitude_similarity(g, h)})
            events.append({"event": "grad_norm", **where, "loss": loss, "grad_norm": float(g.norm()),
                           "fisher_trace": float(g.double().pow(2).sum())})
        if "gradsim" in what and len(langs) > 1:
            rows = similarity_by_group(torch.stack(grads), langs, param_slices(model.named_parameters()))
            for row in rows:
                events.append({"event": "gradsim", "step": step, "split": probes.split, **row})
            known = {lang: groups[lang] for lang in langs if groups.get(lang) in ("low", "high")}
            pair_rows = [r for r in rows if r["lang_a"] in known and r["lang_b"] in known]
            if pair_rows:
                for agg in aggregate_by_pairing(pair_rows, known):
                    events.append({"event": "gradsim_pairing", "step": step, "split": probes.split, **agg})
    return events
