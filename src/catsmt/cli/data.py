"""``catsmt data list``, ``catsmt data get`` and ``catsmt prepare``: corpora, built or checked."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from catsmt.cli.common import UsageError


def cmd_data_list(args: argparse.Namespace) -> int:
    from catsmt.data.recipes import RECIPES

    for name, recipe in RECIPES.items():
        print(f"{name:18s} {recipe.description}")
    return 0


def cmd_data_get(args: argparse.Namespace) -> int:
    from catsmt.config import parse_overrides
    from catsmt.data.errors import DataError
    from catsmt.data.recipes import build

    options = parse_overrides(args.options)
    try:
        stats = build(args.name, Path(args.out), mirror=args.mirror, overwrite=args.overwrite, **options)
    except DataError as e:  # the library names its argument; here it is a flag
        raise DataError(str(e).replace("pass overwrite=True", "pass --overwrite")) from e
    print(json.dumps(stats, indent=2, ensure_ascii=False))
    return 0


def cmd_prepare(args: argparse.Namespace) -> int:
    import shlex

    from catsmt.data.prepare import check_corpus

    out = Path(args.out) if args.out else None
    if out is not None and out.exists():
        raise UsageError(f"--out {out} exists; nothing written (choose another name, or delete it first)")
    pairs = [p.strip() for p in args.pairs.split(",") if p.strip()] if args.pairs else None
    check = check_corpus(args.dir, fmt=args.format, pivot=args.pivot, direction=args.direction, pairs=pairs)
    print(check.table())
    if not check.ok:
        n = len(check.problems)
        print(f"catsmt: {n} problem{'s' * (n != 1)} in {args.dir}; fix {'them' if n != 1 else 'it'} "
              "and run catsmt prepare again", file=sys.stderr)
        return 1
    data = check.data_section()
    words = ["--data", data.pop("dir")]
    words += [f"data.{k}={','.join(v) if isinstance(v, list) else v}" for k, v in data.items()]
    print("train with: catsmt train " + " ".join(shlex.quote(w) for w in words) + " [key=value ...]")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        try:
            with open(out, "x", encoding="utf-8") as f:  # "x": never over another file
                f.write(check.starter_config())
        except FileExistsError:
            raise UsageError(f"--out {out} exists; nothing written (choose another name, or delete it first)") from None
        print(f"wrote {out}; train with: catsmt train {shlex.quote(str(out))}")
    else:
        print("suggested config (write it with --out CONFIG.yaml):")
        print(check.starter_config(), end="")
    return 0

