"""Decoding speed on this machine: greedy vs beam search, and the KV cache vs recomputation.

    .venv/bin/python benchmarks/decode_speed.py [--sentences 200] [--beam 5] [--threads 1]

Uses a randomly initialised model of the given preset (default ``tiny``) over a vocabulary of
``--vocab`` ids and random source sentences of 5..40 tokens. An untrained model rarely emits
``</s>``, so almost every hypothesis runs to its maximum length (``1.5 * src_len + 10``):
the numbers are throughput at a fixed amount of work, not a trained model's early stopping.

Prints target tokens per second for greedy search and beam search through
:func:`catsmt.decoding.translate_ids`, and the ratio of the time a greedy decoder takes when
it recomputes the whole prefix at every step to the time it takes with the cache.
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from catsmt.decoding import DecodeConfig, translate_ids
from catsmt.model import PRESETS, ModelConfig, Transformer, build_model

PAD, EOS, TAG = 1, 2, 3


def greedy_steps(model: Transformer, src: torch.Tensor, steps: int, cached: bool) -> torch.Tensor:
    """``steps`` greedy steps for every row (no stopping at ``</s>``); ``(B, steps)`` ids."""
    with torch.inference_mode():
        enc = model.encode(src)
        tokens = torch.full((src.size(0), 1), TAG)  # (B, 1)
        cache = model.new_cache(enc) if cached else None
        for _ in range(steps):
            if cache is not None:
                logits, cache = model.decode(tokens[:, -1:], enc, cache)  # (B, 1, V)
            else:
                logits, _ = model.decode(tokens, enc)  # (B, t, V): the whole prefix again
            tokens = torch.cat([tokens, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    return tokens[:, 1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="tiny", choices=list(PRESETS))
    parser.add_argument("--vocab", type=int, default=8000, help="vocabulary size")
    parser.add_argument("--sentences", type=int, default=200)
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--batch-tokens", type=int, default=4096)
    parser.add_argument("--cache-steps", type=int, default=60, help="steps for cache vs recompute")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = build_model(ModelConfig.from_mapping({"preset": args.preset}), args.vocab, PAD).eval()
    g = torch.Generator().manual_seed(args.seed)
    lengths = torch.randint(5, 41, (args.sentences,), generator=g).tolist()
    sources = [
        [*torch.randint(4, args.vocab, (n - 1,), generator=g).tolist(), EOS] for n in lengths
    ]
    bos_ids = [TAG] * len(sources)
    print(
        f"preset={args.preset} params={model.num_parameters():,} vocab={args.vocab} "
        f"sentences={len(sources)} source_tokens={sum(lengths)} threads={args.threads} "
        f"loadavg={os.getloadavg()[0]:.2f} torch={torch.__version__}"
    )

    for beam in (1, args.beam):
        cfg = DecodeConfig(beam=beam, lenpen=1.0, batch_tokens=args.batch_tokens)
        start = time.perf_counter()
        out = translate_ids(model, sources, bos_ids, cfg, EOS, PAD, "cpu")
        seconds = time.perf_counter() - start
        n_out = sum(len(h) for h in out)
        name = "greedy" if beam == 1 else f"beam-{beam}"
        print(
            f"{name:>8}: {seconds:6.2f} s  {n_out} target tokens  {n_out / seconds:8.1f} tok/s  "
            f"{len(sources) / seconds:6.1f} sent/s"
        )

    src = torch.full((64, 40), PAD)  # 64 sentences of the benchmark, padded
    for i, s in enumerate(sources[:64]):
        src[i, : len(s)] = torch.tensor(s)
    times = {}
    outputs = {}
    for cached in (True, False):
        start = time.perf_counter()
        outputs[cached] = greedy_steps(model, src, args.cache_steps, cached)
        times[cached] = time.perf_counter() - start
    same = torch.equal(outputs[True], outputs[False])
    print(
        f"   cache: {args.cache_steps} greedy steps x 64 sentences: cached {times[True]:.2f} s, "
        f"recomputing {times[False]:.2f} s, ratio {times[False] / times[True]:.1f}x "
        f"(same tokens: {same})"
    )


if __name__ == "__main__":
    main()
