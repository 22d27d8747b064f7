from __future__ import annotations

import math

import pytest
import torch

from catsmt.analysis.gradsim import (
    PARAM_GROUPS,
    SimilarityRow,
    aggregate_by_pairing,
    assign_groups,
    cosine,
    magnitude_similarity,
    pairing,
    similarity_by_group,
)


def test_cosine_of_hand_made_vectors() -> None:
    assert cosine(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 2.0])) == 0.0
    assert cosine(torch.tensor([1.0, 2.0]), torch.tensor([3.0, 6.0])) == pytest.approx(1.0)
    assert cosine(torch.tensor([1.0, 2.0]), torch.tensor([-2.0, -4.0])) == pytest.approx(-1.0)
    assert cosine(torch.tensor([1.0, 1.0]), torch.tensor([1.0, 0.0])) == pytest.approx(1 / math.sqrt(2))
    assert cosine(torch.zeros(2), torch.tensor([1.0, 0.0])) == 0.0
    with pytest.raises(ValueError, match="shape"):
        cosine(torch.zeros(2), torch.zeros(3))


def test_magnitude_similarity_of_hand_made_vectors() -> None:
    assert magnitude_similarity(torch.tensor([3.0, 4.0]), torch.tensor([0.0, -5.0])) == pytest.approx(1.0)
    # Norms 1 and 3: 2·1·3 / (1 + 9).
    assert magnitude_similarity(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 3.0])) == pytest.approx(0.6)
    assert magnitude_similarity(torch.zeros(2), torch.tensor([1.0, 0.0])) == 0.0
    assert magnitude_similarity(torch.zeros(2), torch.zeros(2)) == 1.0


def transformer_names(layers: int = 2, fairseq: bool = False) -> dict[str, str]:
    """Parameter names of an encoder-decoder Transformer -> the group each belongs to."""
    expected: dict[str, str] = {}
    enc, dec = ("encoder.layers", "decoder.layers") if fairseq else ("encoder_layers", "decoder_layers")
    norm = "_layer_norm" if fairseq else "_norm"
    ea = "encoder_attn" if fairseq else "cross_attn"
    proj = [f"{p}_proj.{wb}" for p in "qkv" for wb in ("weight", "bias")] + ["out_proj.weight", "out_proj.bias"]
    ffn = ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    ffn = ffn if fairseq else [f"ffn.{n}" for n in ffn]
    for i in range(layers):
        for p in proj:
            expected[f"{enc}.{i}.self_attn.{p}"] = "E.SA"
            expected[f"{dec}.{i}.self_attn.{p}"] = "D.SA"
            expected[f"{dec}.{i}.{ea}.{p}"] = "D.EA"
        for p in ffn:
            expected[f"{enc}.{i}.{p}"] = "E.FC"
            expected[f"{dec}.{i}.{p}"] = "D.FC"
        for wb in ("weight", "bias"):
            expected[f"{enc}.{i}.self_attn{norm}.{wb}"] = "E.LN"
            expected[f"{dec}.{i}.self_attn{norm}.{wb}"] = "D.LN"
            expected[f"{dec}.{i}.{ea}{norm}.{wb}"] = "D.LN"
            if fairseq:
                expected[f"{enc}.{i}.final_layer_norm.{wb}"] = "E.LN"
                expected[f"{dec}.{i}.final_layer_norm.{wb}"] = "D.LN"
            else:
                expected[f"{enc}.{i}.ffn_norm.{wb}"] = "E.LN"
                expected[f"{dec}.{i}.ffn_norm.{wb}"] = "D.LN"
    for wb in ("weight", "bias"):
        if fairseq:
            expected[f"encoder.layer_norm.{wb}"] = "E.LN"
            expected[f"decoder.layer_norm.{wb}"] = "D.LN"
            expected[f"encoder.layernorm_embedding.{wb}"] = "E.LN"
        else:
            expected[f"encoder_norm.{wb}"] = "E.LN"
            expected[f"decoder_norm.{wb}"] = "D.LN"
    if fairseq:
        expected.update({"encoder.embed_tokens.weight": "Emb", "decoder.embed_tokens.weight": "Emb",
                         "decoder.output_projection.weight": "Emb"})
    else:
        expected.update({"embed.weight": "Emb", "tgt_embed.weight": "Emb", "out_proj.weight": "Emb"})
    return expected


@pytest.mark.parametrize("fairseq", [False, True])
def test_every_transformer_parameter_is_in_its_group(fairseq: bool) -> None:
    expected = transformer_names(fairseq=fairseq)
    assigned = assign_groups(expected)
    assert assigned["all"] == list(expected)
    for group in PARAM_GROUPS:
        if group != "all":
            assert assigned[group] == [n for n, g in expected.items() if g == group], group


def test_grouping_matches_the_real_transformer_if_present() -> None:
    transformer = pytest.importorskip("catsmt.model.transformer")
    from catsmt.model.config import ModelConfig

    model = transformer.Transformer(ModelConfig(layers=2, tie_output=False, share_embeddings=False), 50, 0)
    names = [n for n, _ in model.named_parameters()]
    assigned = assign_groups(names)
    counts = {n: sum(n in assigned[g] for g in PARAM_GROUPS if g != "all") for n in names}
    assert {n: c for n, c in counts.items() if c != 1} == {}
    assert set(transformer_names(2)) == set(names)


def test_assign_groups_rejects_a_bad_pattern() -> None:
    with pytest.raises(ValueError, match="'X'"):
        assign_groups(["a"], {"X": "("})


def test_similarity_by_group_on_hand_made_gradients() -> None:
    # Three languages, two parameters "a" (2 entries) and "b" (1 entry).
    grads = torch.tensor(
        [
            [1.0, 0.0, 2.0],
            [0.0, 3.0, 2.0],
            [2.0, 0.0, -1.0],
        ]
    )
    slices = {"a": slice(0, 2), "b": slice(2, 3)}
    groups = {"A": "^a$", "B": "^b$", "none": "^zzz$", "all": ""}
    rows = similarity_by_group(grads, ["x", "y", "z"], slices, groups)
    assert [(r["lang_a"], r["lang_b"], r["group"]) for r in rows] == [
        (a, b, g) for a, b in [("x", "y"), ("x", "z"), ("y", "z")] for g in ("A", "B", "all")
    ]
    by_key = {(r["lang_a"], r["lang_b"], r["group"]): r for r in rows}
    # Group A: x=(1,0), y=(0,3): orthogonal, norms 1 and 3.
    assert by_key["x", "y", "A"]["cos"] == pytest.approx(0.0)
    assert by_key["x", "y", "A"]["mag"] == pytest.approx(0.6)
    # Group B: x=2, z=-1: opposite, γ = 2·2·1/(4+1).
    assert by_key["x", "z", "B"]["cos"] == pytest.approx(-1.0)
    assert by_key["x", "z", "B"]["mag"] == pytest.approx(0.8)
    for (a, b, g), row in by_key.items():
        cols = slices["a"] if g == "A" else slices["b"] if g == "B" else slice(0, 3)
        ia, ib = "xyz".index(a), "xyz".index(b)
        assert row["cos"] == pytest.approx(cosine(grads[ia, cols], grads[ib, cols]))
        assert row["mag"] == pytest.approx(magnitude_similarity(grads[ia, cols], grads[ib, cols]))


def test_similarity_by_group_checks_its_input() -> None:
    with pytest.raises(ValueError, match="gradient matrix"):
        similarity_by_group(torch.zeros(2, 3), ["x"], {"a": slice(0, 3)})
    with pytest.raises(ValueError, match="repeated.*x"):
        similarity_by_group(torch.zeros(2, 3), ["x", "x"], {"a": slice(0, 3)})
    with pytest.raises(ValueError, match="'a' is outside"):
        similarity_by_group(torch.zeros(2, 3), ["x", "y"], {"a": slice(0, 4)})


def row(a: str, b: str, group: str, cos: float, mag: float) -> SimilarityRow:
    return SimilarityRow(lang_a=a, lang_b=b, group=group, cos=cos, mag=mag)


def test_aggregate_by_pairing_hand_computed() -> None:
    levels = {"rus": "high", "por": "high", "tur": "high", "bel": "low", "aze": "low"}
    rows = [
        row("rus", "por", "E.SA", 0.4, 0.9),  # HiHi
        row("rus", "tur", "E.SA", 0.2, 0.7),  # HiHi
        row("bel", "aze", "E.SA", 0.3, 0.8),  # LoLo
        row("rus", "bel", "E.SA", 0.0, 0.5),  # HiLo
        row("aze", "por", "E.SA", -0.2, 0.3),  # HiLo (low first)
        row("rus", "bel", "D.FC", 0.1, 0.6),  # HiLo
    ]
    out = aggregate_by_pairing(rows, levels)
    assert [(r["pairing"], r["group"], r["n"]) for r in out] == [
        ("HiHi", "E.SA", 2),
        ("LoLo", "E.SA", 1),
        ("HiLo", "E.SA", 2),
        ("HiLo", "D.FC", 1),
    ]
    hihi, lolo, hilo, hilo_fc = out
    assert hihi["cos_mean"] == pytest.approx(0.3) and hihi["mag_mean"] == pytest.approx(0.8)
    assert hihi["cos_std"] == pytest.approx(0.1) and hihi["mag_std"] == pytest.approx(0.1)
    assert lolo["cos_mean"] == pytest.approx(0.3) and lolo["cos_std"] == 0.0
    assert hilo["cos_mean"] == pytest.approx(-0.1) and hilo["mag_mean"] == pytest.approx(0.4)
    assert hilo_fc["cos_mean"] == pytest.approx(0.1)


def test_aggregate_by_pairing_names_a_language_without_level() -> None:
    with pytest.raises(ValueError, match="'kor'.*known: bel, rus"):
        aggregate_by_pairing([row("rus", "kor", "all", 0.0, 1.0)], {"rus": "high", "bel": "low"})
    with pytest.raises(ValueError, match="'low' or 'high'"):
        aggregate_by_pairing([], {"rus": "mid"})
    assert pairing("low", "high") == pairing("high", "low") == "HiLo"
