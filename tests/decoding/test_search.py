"""Properties of catsmt.decoding: greedy and beam search, batched translation, and learning."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest
import torch

from catsmt.decoding import (
    DecodeConfig,
    beam_search,
    fit_sources,
    greedy_search,
    make_batches,
    translate_ids,
)
from catsmt.model import (
    DecoderCache,
    EncoderOut,
    ModelConfig,
    Transformer,
    build_model,
    label_smoothed_loss,
    per_sentence_nll,
)

PAD, EOS, TAG = 1, 2, 3
FIRST = 4  # first ordinary token id


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    """Tiny tensors: one thread is fastest and is not slowed down by other processes."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def random_model(seed: int, vocab: int = 24) -> Transformer:
    """A small untrained model whose outputs vary: an untied, sharpened output projection (a
    tied random model mostly repeats its input token) and a final LayerNorm bias that leans
    towards </s>, so that some outputs end before their maximum length."""
    torch.manual_seed(seed)
    cfg = ModelConfig(layers=2, dim=32, ffn_dim=64, heads=4, dropout=0.0, tie_output=False)
    model = build_model(cfg, vocab, PAD).eval()
    assert model.out_proj is not None and model.decoder_norm is not None
    with torch.no_grad():
        model.out_proj.weight.mul_(3)
        eos_row = model.out_proj.weight[EOS]
        model.decoder_norm.bias.copy_(eos_row / eos_row.norm())
    return model


def task_batch(
    n: int, vocab: int, max_len: int, g: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[list[int]]]:
    """Reverse random sequences: ``src = x </s>``, ``tgt_in = <tag> reversed(x)``."""
    lengths = torch.randint(2, max_len + 1, (n,), generator=g).tolist()
    S = max(lengths) + 1
    src = torch.full((n, S), PAD)
    tgt_in = torch.full((n, S), PAD)
    tgt_out = torch.full((n, S), PAD)
    targets = []
    for i, L in enumerate(lengths):
        x = torch.randint(FIRST, vocab, (L,), generator=g)
        y = x.flip(0)
        src[i, :L], src[i, L] = x, EOS
        tgt_in[i, 0], tgt_in[i, 1 : L + 1] = TAG, y
        tgt_out[i, :L], tgt_out[i, L] = y, EOS
        targets.append(y.tolist())
    return src, tgt_in, tgt_out, targets


def train(model: Transformer, steps: int, lr: float, batch: int, max_len: int, seed: int) -> None:
    """Adam, warm-up then linear decay to zero, on the reversal task."""
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.98), foreach=True)
    warmup = min(30, steps // 2)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warmup, (steps - s) / (steps - warmup))
    )
    model.train()
    for _ in range(steps):
        src, tgt_in, tgt_out, _ = task_batch(batch, model.vocab_size, max_len, g)
        loss, _, n = label_smoothed_loss(model(src, tgt_in), tgt_out, PAD, 0.0)
        opt.zero_grad()
        (loss / n).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        schedule.step()
    model.eval()


@pytest.fixture(scope="module")
def briefly_trained() -> Transformer:
    torch.manual_seed(0)
    model = build_model(ModelConfig(layers=2, dim=32, ffn_dim=64, heads=4, dropout=0.1), 24, PAD)
    train(model, steps=100, lr=3e-3, batch=16, max_len=6, seed=0)
    return model


def sources(n: int, vocab: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(n, 9)`` padded sources of lengths 3..8 and ``(n,)`` per-sentence maximum lengths."""
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(FIRST, vocab, (n, 9), generator=g)
    for i in range(n):
        src[i, 3 + i % 6 :] = PAD
    max_len = torch.randint(3, 15, (n,), generator=g)
    return src, max_len


def model_score(model: Transformer, src: torch.Tensor, hyp: list[int], lenpen: float) -> float:
    """Beam search's objective for one hypothesis: ``sum log p(hyp </s>) / (len + 1)**lenpen``."""
    tgt_in = torch.tensor([[TAG, *hyp]])
    tgt_out = torch.tensor([[*hyp, EOS]])
    with torch.no_grad():
        logits = model(src[src != PAD].unsqueeze(0), tgt_in)
    return -per_sentence_nll(logits, tgt_out, PAD).item() / (len(hyp) + 1) ** lenpen


@pytest.mark.parametrize("lenpen", [0.0, 1.0, 2.0])
def test_beam_one_equals_greedy_on_a_random_model(lenpen: float) -> None:
    ended, truncated = 0, 0
    for seed in range(3):
        model = random_model(seed)
        src, max_len = sources(10, 24, seed)
        bos = torch.full((10,), TAG)
        greedy = greedy_search(model, src, bos, EOS, PAD, max_len)
        assert greedy == beam_search(model, src, bos, EOS, PAD, 1, lenpen, max_len)
        for hyp, limit in zip(greedy, max_len.tolist(), strict=True):
            ended += len(hyp) < limit
            truncated += len(hyp) == limit
    assert ended > 0 and truncated > 0  # both ways of stopping were exercised


def test_beam_one_equals_greedy_on_a_briefly_trained_model(briefly_trained: Transformer) -> None:
    src, max_len = sources(16, 24, 5)
    bos = torch.full((16,), TAG)
    greedy = greedy_search(briefly_trained, src, bos, EOS, PAD, max_len)
    assert greedy == beam_search(briefly_trained, src, bos, EOS, PAD, 1, 1.0, max_len)
    assert any(0 < len(h) < m for h, m in zip(greedy, max_len.tolist(), strict=True))


@pytest.mark.parametrize("lenpen", [0.0, 1.0])
def test_wider_beam_finds_hypotheses_scoring_at_least_greedys(lenpen: float) -> None:
    """Beam search is not guaranteed to beat greedy on every sentence (greedy's path can
    fall out of the beam), so this checks the total and a large majority of sentences."""
    better_or_equal = total = 0
    sum_greedy = sum_beam = 0.0
    for seed in range(3):
        model = random_model(seed)
        src, max_len = sources(10, 24, seed)
        bos = torch.full((10,), TAG)
        greedy = greedy_search(model, src, bos, EOS, PAD, max_len)
        beam = beam_search(model, src, bos, EOS, PAD, 5, lenpen, max_len)
        for i in range(10):
            g_score = model_score(model, src[i], greedy[i], lenpen)
            b_score = model_score(model, src[i], beam[i], lenpen)
            better_or_equal += b_score >= g_score - 1e-5
            total += 1
            sum_greedy += g_score
            sum_beam += b_score
    assert sum_beam > sum_greedy
    assert better_or_equal >= 0.9 * total


class BigramModel(Transformer):
    """A stand-in whose next-token distribution depends only on the last token."""

    def __init__(self, log_probs: torch.Tensor) -> None:
        super().__init__(ModelConfig(layers=1, dim=8, ffn_dim=8, heads=2), log_probs.size(0), PAD)
        self.log_probs = log_probs  # (V, V): row = last token, column = next token

    def decode(  # type: ignore[override]
        self, tgt_in: torch.Tensor, enc: EncoderOut, cache: DecoderCache | None = None
    ) -> tuple[torch.Tensor, DecoderCache | None]:
        if cache is not None:
            cache.length += tgt_in.size(1)
        return self.log_probs[tgt_in], cache  # (B, T, V)


def test_length_penalty_changes_the_ranking_as_defined() -> None:
    """After the tag: </s> has log-prob -1.0, token A -1.2; then A -> B -> </s> with p = 0.9.

    '' scores -1.0 / 1**a and 'A B' scores (-1.2 + 2 log 0.9) / 3**a: the short hypothesis
    wins without a length penalty (a = 0), the long one with a = 1."""
    V, A, B = 8, 4, 5
    others = [t for t in range(V) if t not in (PAD,)]

    def row(probs: dict[int, float]) -> torch.Tensor:
        rest = [t for t in others if t not in probs]
        left = (1 - sum(probs.values())) / len(rest)
        out = torch.full((V,), float("-inf"))
        for t in rest:
            out[t] = math.log(left)
        for t, p in probs.items():
            out[t] = math.log(p)
        return out

    table = torch.stack([row({}) for _ in range(V)])
    table[TAG] = row({EOS: math.exp(-1.0), A: math.exp(-1.2)})
    table[A] = row({B: 0.9})
    table[B] = row({EOS: 0.9})
    model = BigramModel(table)
    src = torch.tensor([[A, B, EOS]])
    bos = torch.tensor([TAG])

    long_score = -1.2 + 2 * math.log(0.9)
    assert long_score < -1.0 and long_score / 3 > -1.0 / 1  # the two rankings differ
    assert greedy_search(model, src, bos, EOS, PAD, 10) == [[]]
    assert beam_search(model, src, bos, EOS, PAD, 2, 0.0, 10) == [[]]
    assert beam_search(model, src, bos, EOS, PAD, 2, 1.0, 10) == [[A, B]]
    # The crossover: -1.0 = long_score / 3**a at a = log(-long_score) / log 3.
    crossover = math.log(-long_score) / math.log(3)
    assert beam_search(model, src, bos, EOS, PAD, 2, crossover - 0.05, 10) == [[]]
    assert beam_search(model, src, bos, EOS, PAD, 2, crossover + 0.05, 10) == [[A, B]]


@pytest.mark.parametrize("beam", [1, 3])
def test_translate_ids_returns_results_in_input_order(beam: int) -> None:
    model = random_model(1, vocab=30)
    g = torch.Generator().manual_seed(3)
    lengths = torch.randperm(12, generator=g) + 2  # shuffled lengths 2..13
    sents = [[*torch.randint(FIRST, 30, (int(n) - 1,), generator=g).tolist(), EOS] for n in lengths]
    bos_ids = [TAG if i % 2 else FIRST for i in range(12)]  # two "target languages"
    cfg = DecodeConfig(beam=beam, lenpen=1.0, max_len_a=0.5, max_len_b=3, batch_tokens=24)
    assert len(make_batches([len(s) for s in sents], cfg.batch_tokens)) > 3
    out = translate_ids(model, sents, bos_ids, cfg, EOS, PAD, "cpu")
    for sent, bos, hyp in zip(sents, bos_ids, out, strict=True):
        alone_src, alone_bos = torch.tensor([sent]), torch.tensor([bos])
        max_len = int(0.5 * len(sent) + 3)
        if beam == 1:
            alone = greedy_search(model, alone_src, alone_bos, EOS, PAD, max_len)
        else:
            alone = beam_search(model, alone_src, alone_bos, EOS, PAD, beam, 1.0, max_len)
        assert hyp == alone[0]
        assert len(hyp) <= max_len and EOS not in hyp and PAD not in hyp


def test_make_batches_respects_the_token_budget() -> None:
    lengths = [5, 1, 9, 3, 3, 7, 30, 2]
    batches = make_batches(lengths, batch_tokens=12)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for b in batches:
        assert len(b) == 1 or len(b) * max(lengths[i] for i in b) <= 12
    assert [6] in batches  # longer than the budget: alone


def test_search_restores_training_mode_and_checks_input() -> None:
    model = random_model(0)
    model.train()
    src, max_len = sources(2, 24, 0)
    bos = torch.full((2,), TAG)
    greedy_search(model, src, bos, EOS, PAD, max_len)
    beam_search(model, src, bos, EOS, PAD, 2, 1.0, 5)
    assert model.training
    assert greedy_search(model, src, bos, EOS, PAD, 0) == [[], []]
    with pytest.raises(ValueError, match="beam"):
        beam_search(model, src, bos, EOS, PAD, 0, 1.0, 5)
    with pytest.raises(ValueError, match="max_len"):
        greedy_search(model, src, bos, EOS, PAD, torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match="empty"):
        translate_ids(model, [[5, EOS], []], [TAG, TAG], DecodeConfig(), EOS, PAD, "cpu")


def test_tiny_preset_learns_to_reverse_sequences() -> None:
    """The tiny preset (dropout off) learns to reverse random sequences in 300 CPU steps,
    and greedy and beam search then reproduce held-out reversals."""
    torch.manual_seed(0)
    model = build_model(ModelConfig.from_mapping({"preset": "tiny", "dropout": 0.0}), 13, PAD)
    train(model, steps=300, lr=2e-3, batch=32, max_len=5, seed=0)
    src, _, _, targets = task_batch(100, 13, 5, torch.Generator().manual_seed(123))
    bos = torch.full((100,), TAG)
    greedy = greedy_search(model, src, bos, EOS, PAD, 10)
    assert sum(h == t for h, t in zip(greedy, targets, strict=True)) >= 95
    beam = beam_search(model, src, bos, EOS, PAD, 4, 1.0, 10)
    assert sum(h == t for h, t in zip(beam, targets, strict=True)) >= 95


def test_fit_sources_cuts_only_the_long_ones_and_keeps_their_end() -> None:
    sources = [[TAG, 5, EOS], [TAG, *range(FIRST, FIRST + 10), EOS], [TAG, 6, 7, EOS]]
    fitted, cut = fit_sources(sources, 4)
    assert cut == [1]
    assert fitted[0] == sources[0] and fitted[2] == sources[2]  # at the limit or under: unchanged
    assert fitted[1] == [TAG, FIRST, FIRST + 1, EOS]  # the tag, the first pieces, then </s>
    assert sources[1][-1] == EOS and len(sources[1]) == 12  # the input is not changed


def test_translate_ids_refuses_a_source_longer_than_the_positions_by_name() -> None:
    model = random_model(0)
    limit = model.cfg.max_positions
    long = [TAG, *([FIRST] * limit), EOS]
    with pytest.raises(ValueError, match=f"source sentence 1 has {limit + 2} tokens, more than the model's max_positions={limit}"):
        translate_ids(model, [[TAG, FIRST, EOS], long], [TAG, TAG], DecodeConfig(beam=1), EOS, PAD, "cpu")
    fitted, _ = fit_sources([long], limit)
    (out,) = translate_ids(model, fitted, [TAG], DecodeConfig(beam=1, max_len_b=3, max_len_a=0), EOS, PAD, "cpu")
    assert len(out) <= 3
