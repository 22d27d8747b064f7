"""CATS's invariants over many random meta updates (the numbers in docs/cats.md and the issue note).

    python tools/cats_invariants.py [--updates 5000] [--mode projected|literal]

N = 8 languages, K = 4 per batch, random losses and gradients (some correlated, scales 0.1-3).
Prints the worst |Σα − 1|, the smallest α, the largest λ_c and the ratio of the late to the
early mean |Δα| (first and last 10% of updates).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from catsmt.weighting.cats import CATS, CATSParams

LANGS = ["aze", "bel", "glg", "ukr", "tur", "rus", "por", "ces"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--updates", type=int, default=5000)
    parser.add_argument("--mode", default="projected", choices=["projected", "literal"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    m = CATS(CATSParams(mode=args.mode), LANGS, {lang: 1 for lang in LANGS})
    worst_sum, smallest, largest_lc, moves, at_floor = 0.0, 1.0, 0.0, [], 0
    for _ in range(args.updates):
        idx = sorted(rng.choice(8, size=4, replace=False).tolist())
        g = rng.normal(size=(4, 64)) * rng.uniform(0.1, 3.0, size=(4, 1))
        if rng.random() < 0.3:
            g += rng.normal(size=(1, 64)) * rng.uniform(0.5, 3.0)
        before = m.alpha.clone()
        with np.errstate(all="ignore"):
            m.meta_update([LANGS[i] for i in idx], torch.tensor(rng.uniform(0.5, 6.0, size=4)), torch.tensor(g @ g.T))
        worst_sum = max(worst_sum, abs(float(m.alpha.sum()) - 1.0))
        smallest = min(smallest, float(m.alpha.min()))
        largest_lc = max(largest_lc, m.lambda_c)
        at_floor += int((m.alpha <= m.params.alpha_min + 1e-12).sum())
        moves.append(float((m.alpha - before).abs().sum()))
    tenth = max(1, args.updates // 10)
    early, late = float(np.mean(moves[:tenth])), float(np.mean(moves[-tenth:]))
    print(f"mode {args.mode}, {args.updates} meta updates, N=8, K=4")
    print(f"worst |sum(alpha) - 1| = {worst_sum:.3g}")
    print(f"smallest alpha         = {smallest:.6g} (alpha_min {m.params.alpha_min})")
    print(f"largest lambda_c       = {largest_lc:.4g}")
    print(f"share of (update, language) at the floor = {at_floor / (8 * args.updates):.3f}")
    print(f"mean |d alpha|_1 early = {early:.4g}, late = {late:.4g}, late/early = {late / early if early else float('nan'):.3f}")


if __name__ == "__main__":
    main()
