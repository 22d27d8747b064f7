"""``catsmt train``: a config from a YAML file, a corpus folder or overrides, or a run to resume."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from catsmt.cli.common import UsageError


def cmd_train(args: argparse.Namespace) -> int:
    import signal

    from catsmt.training.distributed import detect
    from catsmt.training.trainer import train

    if args.data is not None and args.resume:
        raise UsageError("--data with --resume: a run keeps the corpus it started with")
    cfg, resume = _load_train_config(args)
    result = train(cfg, resume=resume)  # type: ignore[arg-type]
    main_rank = detect().is_main  # under torchrun every rank returns here; one of them reports
    if main_rank:
        print(_summary(result))
    if result.stopped == "signal":  # not finished: say so, and exit as a killed process would
        name = signal.Signals(result.signum).name if result.signum else "a signal"
        if main_rank:
            print(f"catsmt: stopped by {name} after {result.steps} updates; checkpoint saved; "
                  f"continue with: catsmt train --resume {result.run_dir}", file=sys.stderr)
        return 128 + (result.signum or signal.SIGTERM)
    return 0 if result.stopped != "non_finite" else 1


def _load_train_config(args: argparse.Namespace) -> tuple[object, bool]:
    if args.resume:
        from catsmt.run.folder import RunFolder, resume_config

        folder = RunFolder(Path(args.resume))
        if not folder.path.is_dir():
            raise UsageError(f"--resume {folder.path}: no such run folder")
        if not folder.config.exists() and not folder.checkpoints.is_dir():
            raise UsageError(f"--resume {folder.path}: no config.yaml there (is it a catsmt run folder?)")
        overrides = list(args.overrides)
        if args.config is not None:  # `catsmt train --resume RUN key=value` parses key=value as CONFIG
            overrides.insert(0, args.config)
        return resume_config(args.resume, overrides), True
    overrides, config = list(args.overrides), args.config
    if config is not None and "=" in config and not Path(config).exists():
        overrides.insert(0, config)  # `catsmt train data.dir=DIR ...`: no YAML, only overrides
        config = None
    if args.data is not None:
        overrides.insert(0, f"data.dir={args.data}")
    if config is None and not overrides:
        raise UsageError("train needs a CONFIG file (or --resume RUN)")
    if config is None:  # the defaults of `catsmt config` with the overrides on top
        from catsmt.config import ConfigError, load_config

        try:
            return load_config(None, overrides), False
        except ConfigError as e:
            raise ConfigError(f"command-line override: {e}") from e
    return _load_config_naming_source(Path(config), overrides), False


def _load_config_naming_source(path: Path, overrides: list[str]) -> object:
    """``load_config``, with a ConfigError prefixed by where the bad key or value is: the file
    or the command-line overrides (the loader's message names the key, not its source)."""
    from catsmt.config import ConfigError, load_config

    try:
        return load_config(path, overrides)
    except ConfigError as e:
        try:
            load_config(path)
        except ConfigError as file_error:
            if str(file_error) == str(e):
                raise ConfigError(str(e) if str(path) in str(e) else f"{path}: {e}") from e
        raise ConfigError(f"command-line override: {e}") from e


def _summary(result: object) -> str:
    r = result
    lines = [
        f"run: {r.run_dir}  ({r.stopped} after {r.steps} updates, {r.tokens_per_second:.0f} target tokens/s)",  # type: ignore[attr-defined]
        f"best: step {r.best_step}, selection score {r.best_score:.4f}",  # type: ignore[attr-defined]
    ]
    for lang, nll in sorted(r.valid.items()):  # type: ignore[attr-defined]
        lines.append(f"  valid nll {lang}: {nll:.4f}")
    return "\n".join(lines)

