"""Properties of catsmt.model.transformer: shapes, masking, the two attention paths, caching."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
import torch.nn.functional as F

from catsmt.model import (
    PRESETS,
    DecoderCache,
    EncoderOut,
    ModelConfig,
    Transformer,
    build_model,
    label_smoothed_loss,
)
from catsmt.model.transformer import EncoderLayer

V, PAD, EOS, TAG = 23, 1, 2, 3


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    """Tiny tensors: one thread is fastest and is not slowed down by other processes."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def small_cfg(**overrides: object) -> ModelConfig:
    fields: dict[str, object] = dict(layers=2, dim=32, ffn_dim=64, heads=4, dropout=0.0)
    fields.update(overrides)
    return ModelConfig(**fields)  # type: ignore[arg-type]


def make_model(seed: int = 0, **overrides: object) -> Transformer:
    torch.manual_seed(seed)
    return build_model(small_cfg(**overrides), V, PAD)


def batch(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Source (B=3, S=7) with padding, decoder input and output (B=3, T=6) with padding."""
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(4, V, (3, 7), generator=g)
    src[0, 4:] = PAD
    src[2, 6:] = PAD
    tgt = torch.randint(4, V, (3, 7), generator=g)
    tgt[1, 5:] = PAD
    tgt_in, tgt_out = tgt[:, :-1].clone(), tgt[:, 1:].clone()
    tgt_in[:, 0] = TAG
    return src, tgt_in, tgt_out


def test_shapes_and_parameter_count() -> None:
    model = make_model()
    src, tgt_in, _ = batch()
    assert model(src, tgt_in).shape == (3, 6, V)
    enc = model.encode(src)
    assert isinstance(enc, EncoderOut)
    assert enc.memory.shape == (3, 7, 32)
    assert torch.equal(enc.src_pad, src.eq(PAD))
    logits, cache = model.decode(tgt_in, enc)
    assert logits.shape == (3, 6, V) and cache is None
    assert model.num_parameters() == sum(p.numel() for p in model.parameters())
    # Shared and tied: one (V, D) matrix serves source, target and output.
    assert model.embed is model.tgt_embed and model.out_proj is None


def test_decoder_layers_and_untied_embeddings() -> None:
    tied = make_model()
    untied = make_model(decoder_layers=3, share_embeddings=False, tie_output=False)
    assert len(untied.encoder_layers) == 2 and len(untied.decoder_layers) == 3
    src, tgt_in, _ = batch()
    assert untied(src, tgt_in).shape == (3, 6, V)
    extra = 2 * V * 32 + sum(p.numel() for p in untied.decoder_layers[2].parameters())
    assert untied.num_parameters() == tied.num_parameters() + extra


def test_fairseq_initialisation() -> None:
    torch.manual_seed(0)
    model = build_model(ModelConfig(**PRESETS["tiny"]), 1000, PAD)
    w = model.embed.weight
    assert torch.all(w[PAD] == 0)
    assert abs(w.std().item() - 128**-0.5) < 0.005
    layer = model.encoder_layers[0]
    assert isinstance(layer, EncoderLayer)
    assert torch.all(layer.self_attn.q_proj.bias == 0) and torch.all(layer.ffn.fc1.bias == 0)
    # Xavier-uniform bound sqrt(6 / (fan_in + fan_out)), times 1/sqrt(2) for q, k, v.
    assert layer.ffn.fc1.weight.abs().max() <= (6 / (128 + 256)) ** 0.5
    assert layer.self_attn.k_proj.weight.abs().max() <= (6 / 256) ** 0.5 / 2**0.5


@pytest.mark.parametrize("norm", ["pre", "post"])
def test_sdpa_and_math_agree_in_forward_and_gradients(norm: str) -> None:
    model = make_model(norm=norm)
    src, tgt_in, tgt_out = batch()

    def loss_and_grads() -> tuple[torch.Tensor, list[torch.Tensor]]:
        model.zero_grad()
        logits = model(src, tgt_in)
        loss, _, _ = label_smoothed_loss(logits, tgt_out, PAD, 0.1)
        loss.backward()
        return logits.detach(), [p.grad.clone() for p in model.parameters()]  # type: ignore[union-attr]

    assert model.attention == "sdpa"
    logits_sdpa, grads_sdpa = loss_and_grads()
    with model.math_attention():
        assert model.attention == "math"
        logits_math, grads_math = loss_and_grads()
    assert model.attention == "sdpa"
    torch.testing.assert_close(logits_sdpa, logits_math, atol=1e-5, rtol=1e-5)
    for a, b in zip(grads_sdpa, grads_math, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def test_math_attention_supports_hessian_vector_products() -> None:
    """Hv from double backward matches a central difference of gradients (float64)."""
    model = make_model(attention="math").double()
    src, tgt_in, tgt_out = batch()
    params = list(model.parameters())

    def grads(create_graph: bool) -> tuple[torch.Tensor, ...]:
        loss, _, n = label_smoothed_loss(model(src, tgt_in), tgt_out, PAD, 0.1)
        return torch.autograd.grad(loss / n, params, create_graph=create_graph)

    torch.manual_seed(1)
    v = [torch.randn_like(p) for p in params]
    g = grads(create_graph=True)
    gv = torch.stack([(gi * vi).sum() for gi, vi in zip(g, v, strict=True)]).sum()  # g . v
    hv = torch.autograd.grad(gv, params)

    h = 1e-6  # small enough that no ReLU changes sign between the two points
    with torch.no_grad():
        for p, vi in zip(params, v, strict=True):
            p.add_(h * vi)
    g_plus = grads(create_graph=False)
    with torch.no_grad():
        for p, vi in zip(params, v, strict=True):
            p.sub_(2 * h * vi)
    g_minus = grads(create_graph=False)
    for hvi, gp, gm in zip(hv, g_plus, g_minus, strict=True):
        torch.testing.assert_close(hvi, (gp - gm) / (2 * h), atol=1e-5, rtol=1e-4)
    assert any(hvi.abs().sum() > 0 for hvi in hv)


@pytest.mark.parametrize("attention", ["sdpa", "math"])
def test_causal_future_tokens_do_not_change_earlier_logits(attention: str) -> None:
    model = make_model(attention=attention).eval()
    src, tgt_in, _ = batch()
    logits = model(src, tgt_in)
    changed = tgt_in.clone()
    changed[:, 3] = (changed[:, 3] + 1 - 4) % (V - 4) + 4
    logits2 = model(src, changed)
    torch.testing.assert_close(logits[:, :3], logits2[:, :3])
    assert not torch.allclose(logits[:, 3:], logits2[:, 3:])


@pytest.mark.parametrize("attention", ["sdpa", "math"])
@pytest.mark.parametrize("norm", ["pre", "post"])
def test_padding_does_not_change_other_sentences(attention: str, norm: str) -> None:
    """Each sentence decoded alone gives the same logits as inside a padded batch."""
    model = make_model(attention=attention, norm=norm).eval()
    src, tgt_in, _ = batch()
    logits = model(src, tgt_in)  # (3, 6, V)
    for i in range(3):
        s = src[i][src[i] != PAD].unsqueeze(0)  # (1, S_i)
        t = tgt_in[i][tgt_in[i] != PAD].unsqueeze(0)  # (1, T_i)
        alone = model(s, t)
        torch.testing.assert_close(alone[0], logits[i, : t.size(1)], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("attention", ["sdpa", "math"])
@pytest.mark.parametrize("norm", ["pre", "post"])
def test_cached_decoding_equals_full_recomputation(attention: str, norm: str) -> None:
    model = make_model(attention=attention, norm=norm).eval()
    src, tgt_in, _ = batch()
    full = model(src, tgt_in)  # (3, 6, V)
    enc = model.encode(src)
    cache = model.new_cache(enc)
    assert isinstance(cache, DecoderCache)
    # Two positions at once, then one at a time.
    first, cache = model.decode(tgt_in[:, :2], enc, cache)
    steps = [first]
    for t in range(2, 6):
        logits, cache = model.decode(tgt_in[:, t : t + 1], enc, cache)
        steps.append(logits)
    assert cache.length == 6
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-5, rtol=1e-5)


def test_reordered_cache_continues_like_a_reordered_batch() -> None:
    model = make_model().eval()
    src, tgt_in, _ = batch()
    index = torch.tensor([2, 0, 0, 1])
    full = model(src[index], tgt_in[index])  # (4, 6, V)
    enc = model.encode(src)
    cache = model.new_cache(enc)
    _, cache = model.decode(tgt_in[:, :3], enc, cache)
    enc, cache = enc.select(index), model.reorder_cache(cache, index)
    rest, _ = model.decode(tgt_in[index, 3:], enc, cache)
    torch.testing.assert_close(rest, full[:, 3:], atol=1e-5, rtol=1e-5)


def test_reorder_within_same_sources_keeps_cross_attention_cache() -> None:
    """Beam reordering (rows keep their source) may skip copying the cross-attention cache."""
    model = make_model().eval()
    src, tgt_in, _ = batch()
    src = src[[0, 0, 2, 2]]  # two "beams" per sentence
    tgt_in = tgt_in[[0, 1, 2, 1]]
    index = torch.tensor([1, 1, 3, 2])  # beams move only within their sentence
    full = model(src[index], tgt_in[index])
    enc = model.encode(src)
    cache = model.new_cache(enc)
    _, cache = model.decode(tgt_in[:, :3], enc, cache)
    moved = model.reorder_cache(cache, index, same_sources=True)
    assert moved.layers[0].cross_k is cache.layers[0].cross_k
    rest, _ = model.decode(tgt_in[index, 3:], enc, moved)
    torch.testing.assert_close(rest, full[:, 3:], atol=1e-5, rtol=1e-5)


def test_layernorm_without_affine_has_no_layernorm_parameters() -> None:
    for norm in ("pre", "post"):
        model = make_model(layernorm_affine=False, norm=norm)
        norms = [m for m in model.modules() if isinstance(m, torch.nn.LayerNorm)]
        assert norms and all(len(list(m.parameters())) == 0 for m in norms)
        assert not any("norm" in name for name, _ in model.named_parameters())
    with_affine = make_model()
    n_norms = sum(isinstance(m, torch.nn.LayerNorm) for m in with_affine.modules())
    assert n_norms == 2 * 2 + 3 * 2 + 2  # encoder, decoder layers, final norms (pre-norm)
    without = make_model(layernorm_affine=False)
    assert with_affine.num_parameters() - without.num_parameters() == n_norms * 2 * 32


@pytest.mark.parametrize("norm", ["pre", "post"])
def test_pre_and_post_norm_train(norm: str) -> None:
    model = make_model(norm=norm, dropout=0.1)
    src, tgt_in, tgt_out = batch()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3, foreach=True)
    losses = []
    for _ in range(30):
        loss, _, n = label_smoothed_loss(model(src, tgt_in), tgt_out, PAD, 0.1)
        opt.zero_grad()
        (loss / n).backward()
        opt.step()
        losses.append(loss.item() / n.item())
    assert losses[-1] < 0.5 * losses[0]


def test_dropout_only_in_training_mode() -> None:
    model = make_model(dropout=0.3, attention_dropout=0.2, activation_dropout=0.2)
    src, tgt_in, _ = batch()
    model.eval()
    torch.testing.assert_close(model(src, tgt_in), model(src, tgt_in))
    model.train()
    assert not torch.allclose(model(src, tgt_in), model(src, tgt_in))


def test_attention_mode_switch_and_errors() -> None:
    model = make_model()
    model.set_attention("math")
    assert model.attention == "math"
    with model.math_attention():
        pass
    assert model.attention == "math"
    with pytest.raises(ValueError, match="sdpa, math"):
        model.set_attention("flash")
    with pytest.raises(ValueError, match="max_positions"):
        make_model(max_positions=8)(torch.full((1, 9), 5), torch.full((1, 2), 5))
    with pytest.raises(ValueError, match="divisible"):
        make_model(heads=5)


def test_logits_in_bf16_autocast() -> None:
    model = make_model()
    src, tgt_in, tgt_out = batch()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model(src, tgt_in)
        loss, _, _ = label_smoothed_loss(logits, tgt_out, PAD, 0.1)
    assert logits.dtype == torch.bfloat16 and loss.dtype == torch.float32
    reference = F.cross_entropy(
        model(src, tgt_in).transpose(1, 2), tgt_out, ignore_index=PAD, reduction="sum"
    )
    _, nll, _ = label_smoothed_loss(logits, tgt_out, PAD, 0.0)
    assert abs(nll.item() - reference.item()) / reference.item() < 0.05


# -- packed rows ---------------------------------------------------------------------------
def packed_rows(
    sentences: list[tuple[list[int], list[int]]], rows: list[list[int]]
) -> tuple[torch.Tensor, ...]:
    """Pack (source, decoder input) token lists by hand: ``rows`` lists the sentences of each
    row. Returns src, tgt_in, src_seg, tgt_seg, right-padded with PAD / segment 0."""
    S = max(sum(len(sentences[k][0]) for k in row) for row in rows)
    T = max(sum(len(sentences[k][1]) for k in row) for row in rows)
    src = torch.full((len(rows), S), PAD)
    tgt = torch.full((len(rows), T), PAD)
    src_seg = torch.zeros(len(rows), S, dtype=torch.long)
    tgt_seg = torch.zeros(len(rows), T, dtype=torch.long)
    for r, row in enumerate(rows):
        s = t = 0
        for seg, k in enumerate(row, start=1):
            a, b = sentences[k]
            src[r, s : s + len(a)] = torch.tensor(a)
            src_seg[r, s : s + len(a)] = seg
            tgt[r, t : t + len(b)] = torch.tensor(b)
            tgt_seg[r, t : t + len(b)] = seg
            s, t = s + len(a), t + len(b)
    return src, tgt, src_seg, tgt_seg


@pytest.mark.parametrize("attention", ["sdpa", "math"])
@pytest.mark.parametrize("norm", ["pre", "post"])
def test_packed_rows_give_each_sentence_its_own_logits_and_gradients(attention: str, norm: str) -> None:
    """Sentences packed several to a row get the logits they get alone, and the summed loss
    has the same gradient as over the sentences one per row."""
    g = torch.Generator().manual_seed(3)
    sentences = []
    for s_len, t_len in [(5, 4), (3, 6), (7, 2), (2, 3), (4, 4)]:
        src = torch.randint(4, V, (s_len,), generator=g).tolist()
        tgt = [TAG] + torch.randint(4, V, (t_len - 1,), generator=g).tolist()
        sentences.append((src, tgt))
    src, tgt_in, src_seg, tgt_seg = packed_rows(sentences, [[0, 1], [2, 3, 4]])
    model = make_model(attention=attention, norm=norm)
    model.eval()
    packed = model(src, tgt_in, src_seg, tgt_seg)  # (2, T, V)
    packed.logsumexp(-1).masked_fill(tgt_seg == 0, 0.0).sum().backward()
    grad_packed = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    total = torch.zeros(())
    for k, (a, b) in enumerate(sentences):
        alone = model(torch.tensor([a]), torch.tensor([b]))[0]  # (T_k, V)
        r = 0 if k < 2 else 1
        where = tgt_seg[r] == (k + 1 if k < 2 else k - 1)
        torch.testing.assert_close(packed[r, where], alone, atol=1e-5, rtol=1e-5)
        total = total + alone.logsumexp(-1).sum()
    total.backward()
    for got, want in zip(grad_packed, (p.grad for p in model.parameters()), strict=True):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)


def test_packed_rows_need_segments_on_both_sides_and_no_cache() -> None:
    model = make_model().eval()
    src, tgt_in, _ = batch()
    seg = (src != PAD).long()
    with pytest.raises(ValueError, match="both the source and the target"):
        model(src, tgt_in, seg, None)
    enc = model.encode(src, seg)
    with pytest.raises(ValueError, match="teacher forcing"):
        model.decode(tgt_in[:, :1], enc, model.new_cache(enc), (tgt_in[:, :1] != PAD).long())  # type: ignore[call-overload]
