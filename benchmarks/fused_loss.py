"""Peak memory and time of the loss from full logits against the fused, chunked loss.

One forward and backward of a model on one language's sub-batch of ``--tokens`` target tokens
and a vocabulary of ``--vocab``, the loss computed (a) from the ``(N, V)`` logits and (b) fused
with the output projection ``--chunk`` positions at a time (``train.loss_chunk``). The two run
interleaved, ``--repeats`` times each; peak memory as :class:`catsmt.bench.PeakMemory` measures
it (the resident set's high-water mark on a Linux CPU, the caching allocator's peak on CUDA).

    python benchmarks/fused_loss.py [--vocab 32000] [--tokens 8192] [--chunk 1024 4096] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from catsmt.bench import PeakMemory, describe_environment
from catsmt.model import ModelConfig, build_model, label_smoothed_loss
from catsmt.run.device import resolve_device

PAD = 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--vocab", type=int, default=32000)
    parser.add_argument("--tokens", type=int, default=8192, help="target tokens of the sub-batch")
    parser.add_argument("--length", type=int, default=32, help="tokens per sentence (source and target)")
    parser.add_argument("--chunk", type=int, nargs="+", default=[1024, 4096])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    device = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = build_model(ModelConfig.from_mapping({"preset": args.preset}), args.vocab, PAD).to(device)
    rows = args.tokens // args.length
    src = torch.randint(4, args.vocab, (rows, args.length), device=device)
    tgt_in = torch.randint(4, args.vocab, (rows, args.length), device=device)
    tgt_out = torch.randint(4, args.vocab, (rows, args.length), device=device)

    def logits_step() -> None:
        loss, _, _ = label_smoothed_loss(model(src, tgt_in), tgt_out, PAD, 0.1)
        loss.backward()
        model.zero_grad(set_to_none=True)

    def fused_step(chunk: int) -> None:
        loss, _, _ = model(src, tgt_in, target=tgt_out, label_smoothing=0.1, loss_chunk=chunk)
        loss.backward()
        model.zero_grad(set_to_none=True)

    cases = {"logits": logits_step} | {f"fused-{c}": (lambda c=c: fused_step(c)) for c in args.chunk}
    memory = PeakMemory(device)
    for fn in cases.values():  # warm-up
        fn()
    seconds: dict[str, list[float]] = {name: [] for name in cases}
    peaks: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.repeats):
        for name, fn in cases.items():
            t0 = time.perf_counter()
            _, delta = memory.measure(fn)
            seconds[name].append(time.perf_counter() - t0)
            peaks[name].append(delta)
    base = statistics.median(seconds["logits"])
    result = {
        "command": "python benchmarks/fused_loss.py " + " ".join(f"--{k}={v}" for k, v in vars(args).items() if k != "out"),
        "environment": describe_environment(device, ""),
        "memory_method": memory.method,
        "settings": {k: v for k, v in vars(args).items() if k != "out"},
        "logits_mb_fp32": rows * args.length * args.vocab * 4 / 2**20,
        "rows": [],
    }
    print(f"{args.preset} model, vocab {args.vocab}, {rows * args.length} target tokens; one (N, V) fp32 tensor is "
          f"{result['logits_mb_fp32']:.0f} MB; peak = {memory.method}")
    print(f"{'case':12} {'median s':>9} {'vs logits':>9} {'peak +MB':>9}")
    for name in cases:
        t, m = statistics.median(seconds[name]), max(peaks[name])
        result["rows"].append({"case": name, "seconds": t, "ratio": t / base, "peak_delta_mb": m})
        print(f"{name:12} {t:9.3f} {t / base:9.3f} {m:9.0f}")
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
