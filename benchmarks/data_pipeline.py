"""Time to build and binarize tatoeba-related, and the non-pad share of its batches.

    python benchmarks/data_pipeline.py --mirror ../shared/mirror [--out /tmp/catsmt-data-bench]
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from catsmt.config import load_config
from catsmt.data import prepare_data
from catsmt.data.recipes import build
from catsmt.weighting.base import temperature_probs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mirror", default=None)
    parser.add_argument("--out", default="/tmp/catsmt-data-bench")
    parser.add_argument("--vocab-size", type=int, default=8000)
    args = parser.parse_args()
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    build("tatoeba-related", out / "data", mirror=args.mirror)
    t1 = time.perf_counter()
    cfg = load_config(None, [f"data.dir={out / 'data'}", f"data.vocab_size={args.vocab_size}"])
    data = prepare_data(cfg.data)
    t2 = time.perf_counter()
    prepare_data(cfg.data)
    t3 = time.perf_counter()
    print(f"build {t1 - t0:.1f} s; vocabulary + binarize {t2 - t1:.1f} s; cached load {t3 - t2:.3f} s")
    print("non-pad share of batch tokens (source and target), and data-loader time per batch:")
    for pack in (False, True):
        for temperature in (1.0, 5.0, float("inf")):
            for max_tokens in (4096, 32768):
                # the batch settings are data settings; the cached vocabulary and arrays are reused
                cfg_t = load_config(None, [f"data.dir={out / 'data'}", f"data.vocab_size={args.vocab_size}",
                                           f"data.max_tokens={max_tokens}", f"data.pack={pack}"])
                probs = temperature_probs(data.sizes("train"), temperature)
                sampler = prepare_data(cfg_t.data).sampler(probs, seed=1)
                real = padded = 0
                n_batches = 300 if max_tokens == 4096 else 60
                seconds = 0.0
                for _ in range(n_batches):
                    t0 = time.perf_counter()
                    batch = sampler.next_batch()
                    seconds += time.perf_counter() - t0
                    real += batch.real_tokens()
                    padded += batch.padded_tokens()
                print(f"pack={pack} T={temperature} max_tokens={max_tokens}: non-pad share "
                      f"{real / padded:.3f}, {1000 * seconds / n_batches:.1f} ms per batch")

if __name__ == "__main__":
    main()
