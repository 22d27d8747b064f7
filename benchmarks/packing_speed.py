"""Training-step time per target token: padded batches against packed ones, on tatoeba-related.

Both samplers draw from the same data with T = inf; each round runs one padded and one
packed batch through forward and backward of the same model; the time per target token is
the median over rounds after ``--warmup`` rounds. Build the data first
(``catsmt data get tatoeba-related --out data/tatoeba-related --mirror ../shared/mirror``).

    python benchmarks/packing_speed.py [--preset small] [--max-tokens 4096] [--rounds 12]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from catsmt.config import load_config
from catsmt.data import prepare_data
from catsmt.model import build_model, label_smoothed_loss
from catsmt.weighting.base import temperature_probs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="data/tatoeba-related")
    parser.add_argument("--preset", default="small")
    parser.add_argument("--max-tokens", type=int, default=4096)
    parser.add_argument("--pack-len", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    common = [f"data.dir={args.data}", f"data.max_tokens={args.max_tokens}", f"model.preset={args.preset}"]
    samplers = {}
    for name, pack in (("padded", "false"), ("packed", "true")):
        cfg = load_config(None, [*common, f"data.pack={pack}", f"data.pack_len={args.pack_len}"])
        data = prepare_data(cfg.data)
        samplers[name] = data.sampler(temperature_probs(data.sizes("train"), float("inf")), seed=1)
    torch.manual_seed(0)
    model = build_model(cfg.model, data.vocab.size, data.vocab.pad_id)
    per_token: dict[str, list[float]] = {name: [] for name in samplers}
    share: dict[str, list[float]] = {name: [] for name in samplers}
    for r in range(args.warmup + args.rounds):
        for name, sampler in samplers.items():
            batch = sampler.next_batch()
            t0 = time.perf_counter()
            for part in batch.parts:
                loss, _, _ = label_smoothed_loss(model(*part.inputs), part.tgt_out, part.pad_id, 0.1)
                loss.backward()
            model.zero_grad(set_to_none=True)
            if r >= args.warmup:
                per_token[name].append((time.perf_counter() - t0) / batch.n_tokens)
                share[name].append(batch.real_tokens() / batch.padded_tokens())
    base = statistics.median(per_token["padded"])
    print(f"{args.preset} model, max_tokens {args.max_tokens}, pack_len {args.pack_len}, {args.rounds} rounds, "
          f"{args.threads} thread(s)")
    for name in samplers:
        t = statistics.median(per_token[name])
        print(f"{name:7} {1e6 * t:8.1f} us per target token  x{t / base:.3f}  non-pad share "
              f"{statistics.mean(share[name]):.3f}")


if __name__ == "__main__":
    main()
