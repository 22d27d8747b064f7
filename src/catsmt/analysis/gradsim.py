"""Gradient similarity between languages, per Transformer parameter group.

The paper (Section 4.1, "Evaluation of Optimization", after Yu et al., 2020) compares the
gradients ``g₁ = ∇L₁`` and ``g₂ = ∇L₂`` of two languages by

- direction similarity (alignment) ``cos φ(g₁, g₂)``, and
- magnitude similarity ``γ(g₁, g₂) = 2‖g₁‖‖g₂‖ / (‖g₁‖² + ‖g₂‖²)``,

for each group of Transformer parameters (E.SA, E.FC, D.SA, D.EA, D.FC in Figure 3 and
Figure 5b; E.LN and D.LN in Figure 5a), averaged over language pairs of the same resource
pairing: both high (HiHi), both low (LoLo), or one of each (HiLo).

The input is the ``(K, P)`` matrix of flat per-language gradients that the training loop
already builds for gradient-combining methods (``TaskGradients.grads`` and
``TaskGradients.param_slices``), so the analysis needs no access to the model.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TypedDict

import torch
from torch import Tensor

#: Order of the pairings in tables and heat maps.
PAIRINGS: tuple[str, ...] = ("HiHi", "LoLo", "HiLo")

# A LayerNorm is any module whose name contains "norm" (``self_attn_norm``, ``encoder_norm``,
# fairseq's ``self_attn_layer_norm`` and ``layernorm_embedding``) or starts with "ln" (``ln1``).
_NORM = r"(?:[^.]*norm[^.]*|ln[^.]*)"
_NOT_NORM = rf"(?!(?:.*\.)?{_NORM}\.)"
_ENC = r"encoder[._]layers\.\d+\."  # catsmt's encoder_layers.0. or fairseq's encoder.layers.0.
_DEC = r"decoder[._]layers\.\d+\."
_FFN = r"(?:ffn|fc\d|feed_forward|mlp)[._]"

#: Parameter group -> regular expression searched (``re.search``) in a parameter name, in
#: the order of the paper's figures. The patterns cover catsmt's Transformer
#: (``encoder_layers.0.self_attn.q_proj.weight``, ``decoder_layers.0.cross_attn...``,
#: ``...ffn.fc1...``, ``...self_attn_norm...``, ``encoder_norm``, ``embed``, ``tgt_embed``,
#: an untied ``out_proj``) and fairseq's (``encoder.layers.0...``, ``encoder_attn``,
#: ``fc1``/``fc2``, ``*_layer_norm``, ``embed_tokens``, ``output_projection``). Apart from
#: ``"all"`` the groups are disjoint; a parameter no group names is counted in ``"all"``
#: only (check with :func:`assign_groups`). Pass another mapping as ``groups=`` for other
#: models.
PARAM_GROUPS: dict[str, str] = {
    "E.SA": rf"^{_NOT_NORM}{_ENC}self_attn\.",
    "E.FC": rf"^{_NOT_NORM}{_ENC}{_FFN}",
    "D.SA": rf"^{_NOT_NORM}{_DEC}self_attn\.",
    "D.EA": rf"^{_NOT_NORM}{_DEC}(?:cross_attn|encoder_attn)\.",
    "D.FC": rf"^{_NOT_NORM}{_DEC}{_FFN}",
    # Every LayerNorm under the encoder (per layer and final), resp. the decoder.
    "E.LN": rf"^(?=encoder[._])(?:.*\.)?{_NORM}\.(?:weight|bias)$",
    "D.LN": rf"^(?=decoder[._])(?:.*\.)?{_NORM}\.(?:weight|bias)$",
    # Token embeddings (shared or per side) and, when it is not tied, the output projection
    # (a top-level ``out_proj``, not the attention output projections).
    "Emb": rf"^{_NOT_NORM}(?:(?:encoder|decoder)\.)?(?:[^.]*embed[^.]*|out_proj|output_proj[^.]*|lm_head)\.",
    "all": r"",
}


class SimilarityRow(TypedDict):
    """Similarity of two languages' gradients restricted to one parameter group."""

    lang_a: str
    lang_b: str
    group: str
    cos: float
    mag: float


class PairingRow(TypedDict):
    """Mean similarity over the language pairs of one resource pairing and group."""

    pairing: str
    group: str
    cos_mean: float
    cos_std: float
    mag_mean: float
    mag_std: float
    n: int


def cosine(g1: Tensor, g2: Tensor) -> float:
    """Direction similarity ``cos φ(g₁, g₂) = g₁·g₂ / (‖g₁‖‖g₂‖)`` (Section 4.1), in float64.

    A zero vector has no direction; the result is then 0 (as in
    ``torch.nn.functional.cosine_similarity``).
    """
    a, b = _pair(g1, g2)
    denom = float(a.norm() * b.norm())
    return float(torch.dot(a, b)) / denom if denom > 0 else 0.0


def magnitude_similarity(g1: Tensor, g2: Tensor) -> float:
    """Magnitude similarity ``γ = 2‖g₁‖‖g₂‖ / (‖g₁‖² + ‖g₂‖²)`` (Section 4.1), in ``[0, 1]``.

    1 means equal norms; two zero vectors count as equal (1), one zero vector gives 0.
    """
    a, b = _pair(g1, g2)
    return _gamma(float(a.pow(2).sum()), float(b.pow(2).sum()))


def _pair(g1: Tensor, g2: Tensor) -> tuple[Tensor, Tensor]:
    if g1.shape != g2.shape:
        raise ValueError(f"gradients differ in shape: {tuple(g1.shape)} vs {tuple(g2.shape)}")
    return g1.reshape(-1).double(), g2.reshape(-1).double()


def _gamma(sq1: float, sq2: float) -> float:
    total = sq1 + sq2
    return 2.0 * math.sqrt(sq1 * sq2) / total if total > 0 else 1.0


def _cos_from_gram(gij: float, gii: float, gjj: float) -> float:
    denom = math.sqrt(gii * gjj)
    return gij / denom if denom > 0 else 0.0


def assign_groups(
    names: Iterable[str], groups: Mapping[str, str] = PARAM_GROUPS
) -> dict[str, list[str]]:
    """Group name -> the parameter names its pattern matches (``re.search``), in input order.

    Raises:
        ValueError: a pattern that is not a valid regular expression.
    """
    compiled = {}
    for group, pattern in groups.items():
        try:
            compiled[group] = re.compile(pattern)
        except re.error as e:
            raise ValueError(f"parameter group '{group}': invalid pattern {pattern!r}: {e}") from e
    names = list(names)
    return {g: [n for n in names if rx.search(n)] for g, rx in compiled.items()}


def similarity_by_group(
    grads: Tensor,
    langs: Sequence[str],
    param_slices: Mapping[str, slice],
    groups: Mapping[str, str] = PARAM_GROUPS,
) -> list[SimilarityRow]:
    """Direction and magnitude similarity for every pair of languages and parameter group.

    Works from per-parameter Gram matrices ``G = X Xᵀ`` (``X`` the ``(K, P_param)`` columns of
    ``grads``), summed over each group's parameters, so each column of ``grads`` is read once
    whatever the number of groups. A group that matches no parameter yields no rows (e.g.
    E.LN in the paper's "-LN" ablation).

    Args:
        grads: ``(K, P)`` flat per-language gradients, row k for ``langs[k]``.
        langs: the K distinct language names.
        param_slices: parameter name -> slice of the flat vector
            (:func:`catsmt.weighting.grads.param_slices`).
        groups: group name -> regex over parameter names (default :data:`PARAM_GROUPS`).

    Returns:
        Rows ``{lang_a, lang_b, group, cos, mag}``, pairs ``(a, b)`` in ``langs`` order
        (``a`` before ``b``), for each pair the groups in ``groups`` order.

    Raises:
        ValueError: ``grads`` is not ``(K, P)`` with ``K = len(langs)``, a language is
            repeated, or a slice falls outside ``P``.
    """
    if grads.dim() != 2 or grads.shape[0] != len(langs):
        raise ValueError(
            f"expected a ({len(langs)}, P) gradient matrix for languages {list(langs)}, "
            f"got shape {tuple(grads.shape)}"
        )
    repeated = sorted({lang for lang in langs if list(langs).count(lang) > 1})
    if repeated:
        raise ValueError(f"languages repeated in the gradient matrix: {', '.join(repeated)}")
    width = grads.shape[1]
    for name, s in param_slices.items():
        if not 0 <= s.start <= s.stop <= width:
            raise ValueError(f"slice {s.start}:{s.stop} of parameter '{name}' is outside the {width} gradient columns")

    members = assign_groups(param_slices, groups)
    needed = {name for names in members.values() for name in names}
    grams: dict[str, Tensor] = {}
    for name in needed:
        x = grads[:, param_slices[name]].double()  # (K, P_param)
        grams[name] = x @ x.T  # (K, K)

    rows: list[SimilarityRow] = []
    pairs = list(itertools.combinations(range(len(langs)), 2))
    group_grams = {
        g: torch.stack([grams[n] for n in names]).sum(0).tolist()
        for g, names in members.items()
        if names
    }
    for i, j in pairs:
        for group, gram in group_grams.items():
            rows.append(
                SimilarityRow(
                    lang_a=langs[i],
                    lang_b=langs[j],
                    group=group,
                    cos=_cos_from_gram(gram[i][j], gram[i][i], gram[j][j]),
                    mag=_gamma(gram[i][i], gram[j][j]),
                )
            )
    return rows


def pairing(a: str, b: str) -> str:
    """``"HiHi"``, ``"LoLo"`` or ``"HiLo"`` for the resource levels of two languages.

    Raises:
        ValueError: a level other than ``"low"`` or ``"high"``.
    """
    for level in (a, b):
        if level not in ("low", "high"):
            raise ValueError(f"resource level must be 'low' or 'high', got '{level}'")
    if a == b:
        return "HiHi" if a == "high" else "LoLo"
    return "HiLo"


def aggregate_by_pairing(
    rows: Iterable[SimilarityRow], groups_low_high: Mapping[str, str]
) -> list[PairingRow]:
    """Average similarity rows over the language pairs of each resource pairing (Figure 3).

    Args:
        rows: output of :func:`similarity_by_group` (possibly from several steps).
        groups_low_high: language -> ``"low"`` or ``"high"`` (``MultilingualData.groups``).

    Returns:
        Rows ``{pairing, group, cos_mean, cos_std, mag_mean, mag_std, n}`` ordered by
        pairing (HiHi, LoLo, HiLo) then group (first appearance); ``n`` counts the rows
        averaged and the standard deviations are population ones (0 for ``n = 1``).

    Raises:
        ValueError: a language missing from ``groups_low_high`` or a level other than
            ``"low"``/``"high"``.
    """
    bad = {lang: lvl for lang, lvl in groups_low_high.items() if lvl not in ("low", "high")}
    if bad:
        raise ValueError(f"resource levels must be 'low' or 'high', got {bad}")
    buckets: dict[tuple[str, str], list[tuple[float, float]]] = {}
    group_order: dict[str, None] = {}
    for row in rows:
        for lang in (row["lang_a"], row["lang_b"]):
            if lang not in groups_low_high:
                raise ValueError(
                    f"language '{lang}' has no resource level; known: {', '.join(sorted(groups_low_high))}"
                )
        key = pairing(groups_low_high[row["lang_a"]], groups_low_high[row["lang_b"]])
        group_order.setdefault(row["group"])
        buckets.setdefault((key, row["group"]), []).append((row["cos"], row["mag"]))

    out: list[PairingRow] = []
    for key in PAIRINGS:
        for group in group_order:
            values = buckets.get((key, group))
            if not values:
                continue
            cos = torch.tensor([v[0] for v in values], dtype=torch.float64)
            mag = torch.tensor([v[1] for v in values], dtype=torch.float64)
            out.append(
                PairingRow(
                    pairing=key,
                    group=group,
                    cos_mean=float(cos.mean()),
                    cos_std=float(cos.std(unbiased=False)),
                    mag_mean=float(mag.mean()),
                    mag_std=float(mag.std(unbiased=False)),
                    n=len(values),
                )
            )
    return out
