"""How much of the data loader's time the background draw hides, on real tatoeba batches.

Runs the same sequence of training steps (a small model, so that building a batch is a
noticeable share of a step) with the sampler called in the loop and with
:class:`catsmt.data.prefetch.PrefetchingSampler`, alternating, and reports the median time
per step of each. Build the data first (``catsmt data get tatoeba-related ...``).

    python benchmarks/prefetch_overlap.py [--max-tokens 32768] [--dim 64] [--rounds 3]   # about 10 minutes
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from catsmt.config import load_config
from catsmt.data import prepare_data
from catsmt.data.prefetch import PrefetchingSampler
from catsmt.model import build_model, label_smoothed_loss
from catsmt.weighting.base import temperature_probs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="data/tatoeba-related")
    parser.add_argument("--max-tokens", type=int, default=32768)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10, help="steps per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = load_config(None, [f"data.dir={args.data}", f"data.max_tokens={args.max_tokens}", "model.preset=tiny",
                             "model.layers=1", f"model.dim={args.dim}", f"model.ffn_dim={2 * args.dim}", "model.heads=2"])
    data = prepare_data(cfg.data)
    probs = temperature_probs(data.sizes("train"), float("inf"))
    torch.manual_seed(0)
    model = build_model(cfg.model, data.vocab.size, data.vocab.pad_id)

    def run(sampler, steps: int) -> tuple[float, float]:
        waited = 0.0
        t0 = time.perf_counter()
        for _ in range(steps):
            t1 = time.perf_counter()
            batch = sampler.next_batch()
            waited += time.perf_counter() - t1
            for part in batch.parts:
                loss, _, _ = label_smoothed_loss(model(*part.inputs), part.tgt_out, part.pad_id, 0.1)
                loss.backward()
            model.zero_grad(set_to_none=True)
        return (time.perf_counter() - t0) / steps, waited / steps

    results: dict[str, list[tuple[float, float]]] = {"in the loop": [], "prefetched": []}
    for r in range(args.rounds + 1):
        for name in results:
            sampler = data.sampler(probs, seed=r)
            if name == "prefetched":
                sampler = PrefetchingSampler(sampler)
            measured = run(sampler, args.steps)
            sampler.close()
            if r > 0:  # round 0 warms up
                results[name].append(measured)
    print(f"max_tokens {args.max_tokens}, dim {args.dim}, {args.steps} steps x {args.rounds} rounds, "
          f"{args.threads} torch thread(s)")
    base = statistics.median(t for t, _ in results["in the loop"])
    for name, rows in results.items():
        step = statistics.median(t for t, _ in rows)
        wait = statistics.median(w for _, w in rows)
        print(f"{name:12} {1000 * step:7.1f} ms per step (x{step / base:.3f}), {1000 * wait:6.1f} ms of it in next_batch")


if __name__ == "__main__":
    main()
