"""The decoding rows: greedy and beam search in target tokens per second.

An untrained model almost never emits ``</s>`` and would decode every sentence to its maximum
length; a few hundred updates of training teach a model nothing on a CPU (100 updates on a
copy task left the loss at ln V and every hypothesis empty). So the decoding model is a
randomly initialised one whose ``</s>`` is forced: barred until the output is as long as the
source, then made the top token (:class:`EndsAtSourceLength`). Sentences and beams then
finish at their own lengths and leave the batch, as they do with a trained model.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from catsmt.bench.config import BenchConfig
from catsmt.bench.data import EOS_ID, PAD_ID, synthetic_tasks
from catsmt.bench.measure import PeakMemory, interleaved
from catsmt.bench.result import Row, timed_row
from catsmt.decoding import DecodeConfig, translate_ids
from catsmt.model import ModelConfig, Transformer
from catsmt.model.transformer import DecoderCache, EncoderOut
from catsmt.run.device import autocast_factory


class EndsAtSourceLength(Transformer):
    """A Transformer whose decoder emits ``</s>`` exactly when its output is as long as the
    source without tag and ``</s>`` (``</s>`` is barred before, and the top token then).

    A stand-in for a trained model's hypothesis lengths in decoding benchmarks: the searches
    run their real end-of-sentence handling (finished beams, sentences leaving the batch), at
    the cost of one comparison per step. Only incremental decoding (with a cache) is changed.
    """

    def decode(  # type: ignore[override]
        self,
        tgt_in: Tensor,
        enc: EncoderOut,
        cache: DecoderCache | None = None,
        tgt_seg: Tensor | None = None,
    ) -> tuple[Tensor, DecoderCache | None]:
        if cache is None:
            return super().decode(tgt_in, enc, None, tgt_seg)
        logits, cache = super().decode(tgt_in, enc, cache)  # (B, T, V)
        emitted = cache.length - 1  # outputs so far: the positions fed, less the tag
        length = (~enc.src_pad).sum(1) - 2  # (B,) source pieces
        last = logits[:, -1]  # (B, V)
        top = last.max(dim=-1).values  # (B,)
        last[:, EOS_ID] = torch.where(length <= emitted, top + 20.0, top - 1e4)
        return logits, cache


def decoding_model(cfg: BenchConfig, device: torch.device) -> tuple[Transformer, list[list[int]], list[int]]:
    """An :class:`EndsAtSourceLength` model of the preset, and sources to translate."""
    torch.manual_seed(cfg.seed)
    model = EndsAtSourceLength(ModelConfig.from_mapping({"preset": cfg.preset}), cfg.vocab, PAD_ID).to(device).eval()
    n = cfg.n_langs
    tasks = synthetic_tasks(n, cfg.vocab, cfg.decode_sentences // n + 1, min(128, cfg.slot_tokens), cfg.seed + 11)
    langs = sorted(tasks)
    sources = [tasks[langs[i % n]].src[i // n].tolist() for i in range(cfg.decode_sentences)]
    bos = [tasks[langs[i % n]].tgt_tag for i in range(cfg.decode_sentences)]
    return model, sources, bos


def decode_rows(cfg: BenchConfig, device: torch.device, memory: PeakMemory, say: Callable[[str], None]) -> list[Row]:
    """Greedy and beam-``cfg.beam`` decoding of ``cfg.decode_sentences`` sources, interleaved."""
    model, sources, bos = decoding_model(cfg, device)
    src_tokens = sum(len(s) - 2 for s in sources)  # without tag and </s>
    autocast = autocast_factory(cfg.precision, device)
    outputs: dict[str, list[list[int]]] = {}

    def decoder(beam: int, name: str) -> Callable[[], None]:
        dcfg = DecodeConfig(beam=beam, lenpen=1.0, batch_tokens=cfg.max_tokens)

        def run() -> None:
            with autocast():
                outputs[name] = translate_ids(model, sources, bos, dcfg, EOS_ID, PAD_ID, device)

        return run

    beam_name = f"beam{cfg.beam}"
    cases = {"greedy": decoder(1, "greedy"), beam_name: decoder(cfg.beam, beam_name)}
    labels = {"greedy": "greedy decoding", beam_name: f"beam-{cfg.beam} decoding"}
    say(f"bench: decoding {len(sources)} sentences, 1 warm-up + {cfg.decode_repeats} rounds")
    times = interleaved(cases, max(cfg.decode_repeats, 1), 1, {}, device)
    peaks = {name: memory.measure(fn) for name, fn in cases.items()}
    rows = []
    for name, t in times.items():
        hyps = outputs[name]
        tokens = sum(len(h) + 1 for h in hyps)  # each hypothesis with its </s>
        row = timed_row(name, labels[name], "decode", t, None, peaks[name], {
            "sentences": len(sources),
            "output_tokens_with_eos": tokens,
            "length_ratio": sum(len(h) for h in hyps) / max(src_tokens, 1),
        })
        row.tokens_per_s = tokens / row.seconds
        rows.append(row)
    return rows
