"""``catsmt compare``, ``catsmt demo``, ``catsmt analyze`` and ``catsmt bench``: studies over
several runs, and the benchmark suite."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from catsmt.cli.common import UsageError, check_device


def cmd_compare(args: argparse.Namespace) -> int:
    from catsmt.decoding.config import DecodeConfig
    from catsmt.report.compare import compare, parse_methods

    check_device(args.device)
    seeds = [int(x) for x in args.seeds.split(",") if x.strip()]
    if not seeds:
        raise UsageError("--seeds needs at least one integer")
    result = compare(
        args.config, parse_methods(args.methods), seeds, args.out, args.overrides,
        decode=DecodeConfig(beam=args.beam), split=args.split, device=args.device,
        eval_max_sentences=args.max_sentences, command=" ".join(["catsmt", *sys.argv[1:]]), jobs=args.jobs,
        report_only=args.report_only,
    )
    _print_report(result)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from catsmt.report.demo import DemoSettings, run_demo

    settings = DemoSettings(
        data=args.data, out=args.out, methods=args.methods, mirror=args.mirror,
        max_steps=args.max_steps, eval_sentences=args.eval_sentences, jobs=args.jobs,
    )
    _print_report(run_demo(settings, command=" ".join(["catsmt", *sys.argv[1:]])))
    return 0


def _print_report(result: object) -> None:
    from catsmt.report.compare import method_label
    from catsmt.report.render import build_tables
    from catsmt.report.verdict import verdict

    r = result
    tables = build_tables(r.records, "test")  # type: ignore[attr-defined]
    print(tables["chrf"].to_text())
    print(tables["bleu"].to_text())
    for metric in ("chrf", "bleu"):
        for line in verdict(r.records, metric, method_label):  # type: ignore[attr-defined]
            print(line)
    print(f"report: {r.report_md} and {r.report_html}")  # type: ignore[attr-defined]


def cmd_analyze(args: argparse.Namespace) -> int:
    from catsmt.analysis.run import analyze_run

    check_device(args.device)
    what = [w.strip() for w in args.what.split(",") if w.strip()]
    langs = [x.strip() for x in args.langs.split(",")] if args.langs else None
    paths = []
    for run in args.run:
        paths += analyze_run(Path(run), what=what, langs=langs, device=args.device, iters=args.iters,
                             split=args.split)
    if len(args.run) > 1:
        from catsmt.analysis.run import compare_runs

        labels = args.labels.split(",") if args.labels else None
        out = Path(args.out) if args.out else Path(args.run[0]) / "analysis" / "compare"
        paths += compare_runs([Path(r) for r in args.run], out, labels)
    for p in paths:
        print(p)
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    import dataclasses

    from catsmt.bench import BenchConfig, format_table, run_bench

    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(BenchConfig)}
    # Every option written out, so that the command reproduces the run whatever the defaults become.
    command = " ".join(["catsmt bench", *(f"--{k.replace('_', '-')} {v}" for k, v in values.items())]
                       + ([f"--out {args.out}"] if args.out else []))
    result = run_bench(BenchConfig(**values), command=command, log=lambda line: print(line, file=sys.stderr))
    print(format_table(result))
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result.to_dict(), indent=2) + "\n")
        print(f"wrote {out}", file=sys.stderr)
    return 0

