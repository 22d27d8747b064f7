"""``catsmt`` command line: thin subcommands over the library.

Every subcommand parses its arguments, calls one library function, and turns the library's
documented errors into a one-line message and a non-zero exit code.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from catsmt import __version__

log = logging.getLogger("catsmt")


class UsageError(Exception):
    """A command-line mistake: reported as ``catsmt: error: ...`` with exit code 2."""


# -- subcommands ---------------------------------------------------------------------------


def cmd_data_list(args: argparse.Namespace) -> int:
    from catsmt.data.recipes import RECIPES

    for name, recipe in RECIPES.items():
        print(f"{name:18s} {recipe.description}")
    return 0


def cmd_data_get(args: argparse.Namespace) -> int:
    from catsmt.config import parse_overrides
    from catsmt.data.recipes import build

    options = parse_overrides(args.options)
    stats = build(args.name, Path(args.out), mirror=args.mirror, overwrite=args.overwrite, **options)
    print(json.dumps(stats, indent=2, ensure_ascii=False))
    return 0


def cmd_methods(args: argparse.Namespace) -> int:
    import dataclasses

    from catsmt.config_fields import help_text
    from catsmt.weighting import WEIGHTINGS

    for name, cls in WEIGHTINGS.items():
        doc = (cls.__doc__ or "").strip().splitlines()[0]
        print(f"{name}: {doc}")
        for f in dataclasses.fields(cls.Params):
            print(f"    {f.name} = {getattr(cls.Params(), f.name)!r}  -- {help_text(f)}")
    return 0


def _load_train_config(args: argparse.Namespace) -> tuple[object, bool]:
    from catsmt.config import load_config

    if args.resume:
        run = Path(args.resume)
        cfg_path = run / "config.yaml"
        if not cfg_path.exists():
            raise UsageError(f"--resume {run}: no config.yaml there (is it a catsmt run folder?)")
        overrides = list(args.overrides)
        if args.config is not None:  # `catsmt train --resume RUN key=value` parses key=value as CONFIG
            overrides.insert(0, args.config)
        cfg = load_config(cfg_path, overrides + [f"train.run_dir={run}"])
        return cfg, True
    if args.config is None:
        raise UsageError("train needs a CONFIG file (or --resume RUN)")
    return load_config(args.config, args.overrides), False


def cmd_train(args: argparse.Namespace) -> int:
    from catsmt.training.trainer import train

    cfg, resume = _load_train_config(args)
    result = train(cfg, resume=resume)  # type: ignore[arg-type]
    print(_summary(result))
    return 0 if result.stopped != "non_finite" else 1


def _summary(result: object) -> str:
    r = result
    lines = [
        f"run: {r.run_dir}  ({r.stopped} after {r.steps} updates, {r.tokens_per_second:.0f} target tokens/s)",  # type: ignore[attr-defined]
        f"best: step {r.best_step}, selection score {r.best_score:.4f}",  # type: ignore[attr-defined]
    ]
    for lang, nll in sorted(r.valid.items()):  # type: ignore[attr-defined]
        lines.append(f"  valid nll {lang}: {nll:.4f}")
    return "\n".join(lines)


# -- parser ----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    from catsmt.data.recipes import RECIPES

    parser = argparse.ArgumentParser(
        prog="catsmt",
        description="Multilingual NMT on imbalanced data with Curvature-Aware Task Scaling (CATS).",
    )
    parser.add_argument("--version", action="version", version=f"catsmt {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    data = sub.add_parser("data", help="build benchmark corpora")
    data_sub = data.add_subparsers(dest="data_command", metavar="ACTION")
    p = data_sub.add_parser("list", help="list the benchmark recipes")
    p.set_defaults(func=cmd_data_list)
    p = data_sub.add_parser("get", help="build a benchmark into a folder (raw fairseq layout + stats.json)")
    p.add_argument("name", choices=list(RECIPES), help="recipe name")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--mirror", default=None, help="offline mirror folder (default: $CATSMT_MIRROR)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing build in --out")
    p.add_argument("options", nargs="*", metavar="key=value", help="recipe options, e.g. sizes=[2000,200]")
    p.set_defaults(func=cmd_data_get)

    p = sub.add_parser("methods", help="list the weighting methods and their hyperparameters")
    p.set_defaults(func=cmd_methods)

    p = sub.add_parser("train", help="train a model", description="Train a model: catsmt train CONFIG [key=value ...]")
    p.add_argument("config", nargs="?", default=None, help="YAML config file")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides, e.g. train.max_steps=500")
    p.add_argument("--resume", metavar="RUN", default=None, help="continue the run in folder RUN")
    p.set_defaults(func=cmd_train)

    return parser



def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``catsmt`` console script."""
    from catsmt.config import ConfigError
    from catsmt.data.errors import DataError
    from catsmt.training.checkpoint import CheckpointError
    from catsmt.training.trainer import RunDirError

    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args))
    except UsageError as e:
        print(f"catsmt: error: {e}", file=sys.stderr)
        return 2
    except (ConfigError, DataError, CheckpointError, RunDirError, ValueError) as e:
        print(f"catsmt: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("catsmt: interrupted", file=sys.stderr)
        return 130
