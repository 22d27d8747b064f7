"""``catsmt`` command line: thin subcommands over the library.

Every subcommand parses its arguments, calls one library function, and turns the library's
documented errors into a one-line message and a non-zero exit code.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterator, Sequence
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
    from catsmt.data.errors import DataError
    from catsmt.data.recipes import build

    options = parse_overrides(args.options)
    try:
        stats = build(args.name, Path(args.out), mirror=args.mirror, overwrite=args.overwrite, **options)
    except DataError as e:  # the library names its argument; here it is a flag
        raise DataError(str(e).replace("pass overwrite=True", "pass --overwrite")) from e
    print(json.dumps(stats, indent=2, ensure_ascii=False))
    return 0


def cmd_methods(args: argparse.Namespace) -> int:
    import dataclasses

    from catsmt.config_fields import help_text
    from catsmt.weighting import WEIGHTINGS

    for name, cls in WEIGHTINGS.items():
        # the docstring's first paragraph, whole (its first line alone stops mid-sentence)
        doc = " ".join((cls.__doc__ or "").strip().split("\n\n")[0].split())
        print(f"{name}: {doc}")
        for f in dataclasses.fields(cls.Params):
            print(f"    {f.name} = {getattr(cls.Params(), f.name)!r}  -- {help_text(f)}")
    return 0


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


def config_reference(sections: Sequence[str] = ()) -> str:
    """Every config key with its type, default and help text, section by section, read from
    the section dataclasses (and for ``weighting``, from each method's ``Params``).

    Args:
        sections: names of the sections to list; empty = all.
    """
    import dataclasses
    import textwrap
    import typing

    import yaml

    from catsmt.config import Config
    from catsmt.config_fields import help_text
    from catsmt.weighting import WEIGHTINGS
    from catsmt.weighting.config import WeightingConfig

    def value(v: object) -> str:
        text = yaml.safe_dump(v, default_flow_style=True, width=1_000_000).strip()
        return text.removesuffix("...").strip()

    def keys(prefix: str, cls: type, instance: object) -> list[str]:
        hints = typing.get_type_hints(cls)
        lines = []
        for f in dataclasses.fields(cls):
            if hints[f.name] is typing.Any:  # weighting.params: listed per method below
                continue
            tp = hints[f.name]
            name = tp.__name__ if isinstance(tp, type) else str(tp)
            lines.append(f"  {prefix}{f.name}: {name} = {value(getattr(instance, f.name))}")
            lines += textwrap.wrap(help_text(f), 96, initial_indent="      ", subsequent_indent="      ")
        return lines

    out: list[str] = []
    for section in dataclasses.fields(Config):
        if sections and section.name not in sections:
            continue
        cls = typing.get_type_hints(Config)[section.name]
        doc = (sys.modules[cls.__module__].__doc__ or "").strip().split("\n")[0].replace("``", "`")
        out += [f"{section.name}: {doc}", *keys(f"{section.name}.", cls, cls())]
        if cls is WeightingConfig:
            for method, wcls in WEIGHTINGS.items():
                summary = " ".join((wcls.__doc__ or "").strip().split("\n\n")[0].split()).replace("``", "`")
                out += textwrap.wrap(f"with {section.name}.method={method}: {summary}", 98,
                                     initial_indent="  ", subsequent_indent="    ")
                out += ["  " + line for line in keys(f"{section.name}.", wcls.Params, wcls.Params())]
        out.append("")
    return "\n".join(out)


def cmd_config(args: argparse.Namespace) -> int:
    import dataclasses

    from catsmt.config import Config

    valid = [f.name for f in dataclasses.fields(Config)]
    unknown = [s for s in args.sections if s not in valid]
    if unknown:
        raise UsageError(f"unknown config section '{unknown[0]}'; valid sections: {', '.join(valid)}")
    print(config_reference(args.sections), end="")
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


def _summary(result: object) -> str:
    r = result
    lines = [
        f"run: {r.run_dir}  ({r.stopped} after {r.steps} updates, {r.tokens_per_second:.0f} target tokens/s)",  # type: ignore[attr-defined]
        f"best: step {r.best_step}, selection score {r.best_score:.4f}",  # type: ignore[attr-defined]
    ]
    for lang, nll in sorted(r.valid.items()):  # type: ignore[attr-defined]
        lines.append(f"  valid nll {lang}: {nll:.4f}")
    return "\n".join(lines)


class InputLineError(ValueError):
    """A line of standard input that cannot be read (not UTF-8), naming its number."""


def _read_stdin_lines() -> Iterator[str]:
    """Lines of standard input without their line ending, decoded strictly as UTF-8.

    Raises:
        InputLineError: a line that is not valid UTF-8, naming its number.
    """
    for number, raw in enumerate(sys.stdin.buffer, start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise InputLineError(
                f"stdin line {number} is not valid UTF-8 ({e.reason} at byte {e.start})"
            ) from None
        yield line.removesuffix("\n").removesuffix("\r")


def _check_device(name: str) -> None:
    """Refuse an unknown or unavailable ``--device`` before any model is loaded."""
    from catsmt.run.device import resolve_device

    try:
        resolve_device(name)
    except ValueError as e:
        raise UsageError(f"--device {name}: {e}") from e


def cmd_translate(args: argparse.Namespace) -> int:
    from catsmt.decoding.text import STREAM_CHUNK
    from catsmt.decoding.translator import load_model

    _set_threads(args.threads)
    _check_device(args.device)
    model = load_model(
        args.path, device=args.device, checkpoint=args.checkpoint, average_last=args.average_last,
        threads=args.threads,
    )
    # Typed at a terminal: answer each line at once; piped: translate in length-sorted chunks.
    chunk = 1 if sys.stdin.isatty() else STREAM_CHUNK
    out = sys.stdout.buffer
    lines = model.translate_stream(
        _read_stdin_lines(), src_lang=args.src_lang, tgt_lang=args.tgt_lang, beam=args.beam,
        batch_tokens=args.batch_tokens, chunk=chunk,
    )  # the pair and the settings are checked here, before stdin is read
    written = 0
    try:
        for written, line in enumerate(lines, start=1):
            out.write(line.encode("utf-8") + b"\n")
            if written % chunk == 0:  # the end of a chunk: let the reader have it now
                out.flush()
        out.flush()
    except BrokenPipeError:  # `catsmt translate ... | head`: the reader left; stop quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as a shell reports a process killed by it
    except InputLineError as e:  # the lines before the bad one are translated: hand them over
        out.flush()
        if not written:
            raise
        done = "the translation of line 1 was" if written == 1 else f"the translations of lines 1-{written} were"
        raise InputLineError(f"{e}; {done} written") from None
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from catsmt.evaluation.run_eval import evaluate_run, summary_text
    from catsmt.run.model_folder import is_model_folder

    _set_threads(args.threads)
    _check_device(args.device)
    run = Path(args.run)
    if args.src is not None or args.ref is not None or is_model_folder(run):
        return _evaluate_files(args)
    split = args.split or "test"
    decode = None
    if args.beam is not None or args.batch_tokens is not None:
        from catsmt.decoding.text import with_overrides
        from catsmt.run.inference import read_config

        base = read_config(run, args.average_last, args.checkpoint).decode
        decode = with_overrides(base, beam=args.beam, batch_tokens=args.batch_tokens)
    langs = [x.strip() for x in args.langs.split(",") if x.strip()] if args.langs is not None else None
    out = Path(args.out) if args.out else None
    result = evaluate_run(
        run, split=split, decode=decode, checkpoint=args.checkpoint,
        average_last=args.average_last, device=args.device, out=out, langs=langs,
        max_sentences=args.max_sentences,
    )
    print(summary_text(result, run.name or str(run)))
    print(f"wrote {out or run / 'eval' / f'{split}.json'}")
    return 0


def _read_text_lines(path: str, flag: str) -> list[str]:
    """The lines of a UTF-8 file, without line endings.

    Raises:
        UsageError: the file cannot be read, or a line is not UTF-8 (naming it).
    """
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise UsageError(f"{flag} {path}: {e.strerror or e}") from None
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    out = []
    for number, raw in enumerate(lines, start=1):
        try:
            out.append(raw.decode("utf-8").removesuffix("\r"))
        except UnicodeDecodeError as e:
            raise UsageError(f"{flag} {path}: line {number} is not valid UTF-8 ({e.reason} at byte {e.start})") from None
    return out


def _evaluate_files(args: argparse.Namespace) -> int:
    """``catsmt evaluate MODEL --src FILE --ref FILE --src-lang X --tgt-lang Y``: translate a
    file and score it against its references with sacrebleu (as ``catsmt translate < FILE``
    then ``sacrebleu REF -i HYP -m bleu chrf`` would)."""
    import dataclasses

    from catsmt.decoding.text import with_overrides
    from catsmt.decoding.translator import load_model
    from catsmt.evaluation.scores import score_language
    from catsmt.files import write_atomic

    given = {"--src": args.src, "--ref": args.ref, "--src-lang": args.src_lang, "--tgt-lang": args.tgt_lang}
    missing = [flag for flag, value in given.items() if value is None]
    if missing:
        raise UsageError(
            f"evaluate {args.run} on files needs {', '.join(missing)}: a model folder has no held-out "
            "split (`catsmt evaluate RUN` without --src/--ref scores a run folder's own valid or test split)"
        )
    if args.split is not None or args.langs is not None:
        raise UsageError("--split and --langs choose a run's held-out data; with --src/--ref give --src-lang and --tgt-lang")
    if args.max_sentences < 0:
        raise UsageError(f"--max-sentences must be >= 0, got {args.max_sentences}")
    sources, refs = _read_text_lines(args.src, "--src"), _read_text_lines(args.ref, "--ref")
    if len(sources) != len(refs):
        raise UsageError(f"--src {args.src} has {len(sources)} lines but --ref {args.ref} has {len(refs)}")
    if args.max_sentences:
        sources, refs = sources[: args.max_sentences], refs[: args.max_sentences]
    if not sources:
        raise UsageError(f"--src {args.src} is empty: nothing to evaluate")
    model = load_model(
        args.run, device=args.device, checkpoint=args.checkpoint, average_last=args.average_last,
        threads=args.threads,
    )
    decode = with_overrides(model.decode, beam=args.beam, batch_tokens=args.batch_tokens)
    hyps = model.translate(
        sources, src_lang=args.src_lang, tgt_lang=args.tgt_lang, beam=decode.beam, batch_tokens=decode.batch_tokens
    )
    scores = score_language(hyps, refs)
    pair = f"{args.src_lang}-{args.tgt_lang}"
    print(f"{pair}: BLEU {scores['bleu']:.2f}  chrF {scores['chrf']:.2f}  ({scores['n']} sentences, beam {decode.beam})")
    print(f"model: {model.description} (step {model.step})")
    print(scores["signature"]["bleu"])
    print(scores["signature"]["chrf"])
    if args.out:
        out = Path(args.out)
        result = {
            "pair": pair, "src": args.src, "ref": args.ref, **scores, "model": model.description,
            "step": model.step, "decode": dataclasses.asdict(decode),
        }
        out.parent.mkdir(parents=True, exist_ok=True)
        (out.parent / "hyps").mkdir(exist_ok=True)
        write_atomic(out.parent / "hyps" / f"{out.stem}.{pair}.hyp", "".join(h + "\n" for h in hyps))
        write_atomic(out, json.dumps(result, indent=2, ensure_ascii=False) + "\n")
        print(f"wrote {out}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from catsmt.run.export import export_model

    info = export_model(
        args.path, args.out, checkpoint=args.checkpoint, average_last=args.average_last, format=args.format
    )
    pairs = ", ".join(f"{s}-{t}" for s, t in (info.languages.pair(lang) for lang in info.languages.langs))
    print(f"wrote {args.out} ({args.format}): step {info.step}, {pairs}")
    return 0


# -- parser ----------------------------------------------------------------------------------


def cmd_compare(args: argparse.Namespace) -> int:
    from catsmt.decoding.config import DecodeConfig
    from catsmt.report.compare import compare, parse_methods

    _check_device(args.device)
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


def cmd_demo(args: argparse.Namespace) -> int:
    from catsmt.report.demo import DemoSettings, run_demo

    settings = DemoSettings(
        data=args.data, out=args.out, methods=args.methods, mirror=args.mirror,
        max_steps=args.max_steps, eval_sentences=args.eval_sentences, jobs=args.jobs,
    )
    _print_report(run_demo(settings, command=" ".join(["catsmt", *sys.argv[1:]])))
    return 0


def cmd_analyze(args: argparse.Namespace) -> int:
    from catsmt.analysis.run import analyze_run

    _check_device(args.device)
    what = [w.strip() for w in args.what.split(",") if w.strip()]
    langs = [x.strip() for x in args.langs.split(",")] if args.langs else None
    paths = []
    for run in args.run:
        paths += analyze_run(Path(run), what=what, langs=langs, device=args.device, iters=args.iters)
    if len(args.run) > 1:
        from catsmt.analysis.run import compare_runs

        labels = args.labels.split(",") if args.labels else None
        out = Path(args.out) if args.out else Path(args.run[0]) / "analysis" / "compare"
        paths += compare_runs([Path(r) for r in args.run], out, labels)
    for p in paths:
        print(p)
    return 0


def _add_model_options(p: argparse.ArgumentParser) -> None:
    """Options shared by translate and evaluate: which weights, where, how to search."""
    p.add_argument("--checkpoint", default="best", metavar="best|last|FILE", help="checkpoint of the run folder: best, last, or a file (default: best)")
    p.add_argument("--average-last", type=int, default=0, metavar="N", help="average the last N step checkpoints (RUN/checkpoints/step-*.pt)")
    p.add_argument("--beam", type=int, default=None, metavar="N", help="beam size, 1 = greedy (default: the run's decode.beam)")
    p.add_argument("--batch-tokens", type=int, default=None, metavar="N", help="source tokens per batch (default: the run's decode.batch_tokens)")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default: auto)")
    p.add_argument("--threads", type=int, default=0, metavar="N", help="CPU threads for torch (default: 0 = torch's default; 1 is often faster on a busy machine)")


def _set_threads(n: int) -> None:
    if n < 0:
        raise UsageError(f"--threads must be >= 0, got {n}")
    if n:
        import torch

        torch.set_num_threads(n)


def build_parser() -> argparse.ArgumentParser:
    import dataclasses

    from catsmt.data.recipes import RECIPES

    parser = argparse.ArgumentParser(
        prog="catsmt",
        description="Multilingual NMT on imbalanced data with Curvature-Aware Task Scaling (CATS).",
    )
    parser.add_argument("--version", action="version", version=f"catsmt {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    data = sub.add_parser("data", help="build benchmark corpora")
    data.set_defaults(func=lambda args: _print_help(data))  # `catsmt data` alone: its own help
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

    p = sub.add_parser(
        "train", help="train a model",
        description="Train a model: catsmt train CONFIG [key=value ...], or without a YAML: "
        "catsmt train --data DIR [key=value ...] (every other key keeps its default). "
        "`catsmt config` lists every key with its default and meaning; `catsmt prepare DIR` "
        "checks a corpus folder and suggests its data.* keys.",
    )
    p.add_argument("config", nargs="?", default=None, help="YAML config file (optional with --data or key=value)")
    p.add_argument("--data", metavar="DIR", default=None, help="corpus folder: the same as data.dir=DIR")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides, e.g. train.max_steps=500")
    p.add_argument("--resume", metavar="RUN", default=None, help="continue the run in folder RUN")
    p.set_defaults(func=cmd_train)

    from catsmt.config import Config
    from catsmt.data import config as data_config

    p = sub.add_parser(
        "prepare",
        help="check a corpus folder before training and suggest (or write) its config",
        description="Read every corpus file of DIR as training would and report, all at once: the "
        "pairs and their sentence pairs per split, the languages, what is unreadable or missing "
        "(unequal sides, no valid split, a pivot no pair has), and the config that trains on it. "
        "Layouts: fairseq ({split}.{a}-{b}.{a} and .{b}), tsv ({split}.{a}-{b}.tsv), "
        "ted ({a}_{b}/ted-{train,dev,test}.orig.{a}); splits train, valid, test. "
        "Exit code 1 when something would stop training.",
    )
    p.add_argument("dir", metavar="DIR", help="the corpus folder")
    p.add_argument("--format", default=None, choices=list(data_config.FORMATS), help="layout of DIR (default: the one it holds most pairs in)")
    p.add_argument("--pivot", default=None, help="the language shared by o2m/m2o pairs (default: the language of every pair)")
    p.add_argument("--direction", default="o2m", choices=list(data_config.DIRECTIONS), help="o2m: pivot -> each language; m2o: each -> pivot; pairs: --pairs (default: o2m)")
    p.add_argument("--pairs", default=None, metavar="a-b,c-d", help="with --direction pairs: the src-tgt pairs (default: every pair as the files name it)")
    p.add_argument("--out", default=None, metavar="CONFIG.yaml", help="write a starter config there (never over an existing file)")
    p.set_defaults(func=cmd_prepare)

    sections = [f.name for f in dataclasses.fields(Config)]
    p = sub.add_parser(
        "config",
        help="list every config key with its default and help, section by section",
        description="Every key that a YAML config or a key=value override may set, with its type, "
        "default and meaning; weighting.* lists each method's own hyperparameters.",
    )
    p.add_argument("sections", nargs="*", metavar="SECTION", help=f"only these sections: {', '.join(sections)} (default: all)")
    p.set_defaults(func=cmd_config)

    p = sub.add_parser(
        "translate",
        help="translate stdin to stdout, one sentence per line",
        description="Translate sentences read from stdin (one per line, UTF-8) and write the "
        "translations to stdout in the same order; an empty line gives an empty line.",
    )
    p.add_argument("path", metavar="MODEL", help="model folder (catsmt export), run folder or checkpoint file")
    p.add_argument("--src-lang", required=True, help="source language, e.g. eng")
    p.add_argument("--tgt-lang", required=True, help="target language, e.g. bel")
    _add_model_options(p)
    p.set_defaults(func=cmd_translate)

    p = sub.add_parser(
        "evaluate",
        help="translate and score a run's held-out split, or your own source and reference files (BLEU, chrF)",
        description="catsmt evaluate RUN: translate a run's held-out split, print a BLEU/chrF table "
        "and write RUN/eval/SPLIT.json and RUN/eval/hyps/SPLIT.LANG.hyp. "
        "catsmt evaluate MODEL --src FILE --ref FILE --src-lang X --tgt-lang Y: translate FILE "
        "with a model folder (or a run) and score it against the references with sacrebleu; "
        "prints the scores and signatures, and writes --out FILE.json if given.",
    )
    p.add_argument("run", metavar="RUN_OR_MODEL", help="run folder; with --src/--ref also a model folder or checkpoint file")
    p.add_argument("--split", default=None, choices=["test", "valid"], help="split of a run to evaluate (default: test)")
    p.add_argument("--out", default=None, metavar="FILE.json", help="scores file (default for a run: RUN/eval/SPLIT.json; hypotheses go to hyps/ beside it)")
    p.add_argument("--langs", default=None, metavar="a,b", help="comma-separated languages of a run (default: all)")
    p.add_argument("--max-sentences", type=int, default=0, metavar="N", help="only the first N sentences per language (default: all)")
    p.add_argument("--src", default=None, metavar="FILE", help="source sentences, one per line (UTF-8), instead of a run's split")
    p.add_argument("--ref", default=None, metavar="FILE", help="the reference translations of --src, line by line")
    p.add_argument("--src-lang", default=None, help="with --src: the source language")
    p.add_argument("--tgt-lang", default=None, help="with --src: the target language")
    _add_model_options(p)
    p.set_defaults(func=cmd_evaluate)

    from catsmt.run.export import FORMATS

    p = sub.add_parser(
        "export",
        help="write a model folder that translates without the run or its corpus",
        description="Write OUT/ with the weights (model.safetensors, or CTranslate2's model.bin "
        "with --format ct2), the SentencePiece model and catsmt.json (model config, languages, "
        "decoding defaults, step and source). `catsmt translate OUT`, `catsmt evaluate OUT --src "
        "--ref` and catsmt.load_model(OUT) read nothing else.",
    )
    p.add_argument("path", metavar="RUN", help="run folder, checkpoint file (or a model folder, to convert it)")
    p.add_argument("out", metavar="OUT", help="folder to create (absent or empty)")
    p.add_argument("--checkpoint", default="best", metavar="best|last|FILE", help="checkpoint of the run folder: best, last, or a file (default: best)")
    p.add_argument("--average-last", type=int, default=0, metavar="N", help="average the last N step checkpoints (RUN/checkpoints/step-*.pt)")
    p.add_argument("--format", default="safetensors", choices=list(FORMATS), help="safetensors (catsmt) or ct2 (CTranslate2; pip install 'catsmt[ct2]') (default: safetensors)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser(
        "bench",
        help="benchmark training steps per weighting method, a Hessian-vector product, decoding and the data loader",
        description="Time and peak memory of each case side by side in one process, interleaved, "
        "with medians and ratios to a plain training step; synthetic data, no corpus needed.",
    )
    from catsmt.bench import PRECISIONS, BenchConfig
    from catsmt.model import PRESETS

    _add_dataclass_options(p, BenchConfig, choices={"preset": list(PRESETS), "precision": list(PRECISIONS)})
    p.add_argument("--out", metavar="FILE.json", default=None, help="also write the result as JSON")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("compare", help="train several methods with the same budget, evaluate, write a report")
    p.add_argument("config", help="shared YAML config (the budget: train.max_steps)")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="overrides shared by every run")
    p.add_argument("--methods", default="t1,t5,tinf,cats", help="comma-separated: t1, t5, tinf or any method of `catsmt methods`; NAME+key=value sets a hyperparameter (cats+alpha_lr=0.2)")
    p.add_argument("--seeds", default="1", help="comma-separated training seeds")
    p.add_argument("--out", required=True, help="report folder (runs/, results.csv/json, report.md/html)")
    p.add_argument("--beam", type=int, default=5, help="beam size of the test evaluation")
    p.add_argument("--split", default="test", choices=["valid", "test"], help="evaluation split")
    p.add_argument("--device", default="cpu", help="decoding device")
    p.add_argument("--max-sentences", type=int, default=0, help="per-language cap on evaluated sentences (0 = all)")
    p.add_argument("--jobs", type=int, default=1, help="runs trained and evaluated at once, one process each (set train.threads so that jobs x threads fits the cores)")
    p.add_argument("--report-only", action="store_true", help="train nothing: report the runs that finished with this config, leave out the others")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("demo", help="the main job on a small default: T=1, T=inf and CATS on tatoeba-ted8, equal updates, with a report and a verdict")
    p.add_argument("--data", default="tatoeba-ted8", choices=["tatoeba-ted8", "tatoeba-related", "synthetic"], help="corpus")
    p.add_argument("--out", default="demo", help="output folder")
    p.add_argument("--methods", default="t1,tinf,cats", help="methods to compare")
    p.add_argument("--jobs", type=int, default=0, help="methods trained at once, one process and thread each (0 = all methods at once)")
    p.add_argument("--mirror", default=None, help="offline mirror folder (default: $CATSMT_MIRROR)")
    p.add_argument("--max-steps", type=int, default=1000, help="updates per method (the same for all; no time cap)")
    p.add_argument("--eval-sentences", type=int, default=200, help="test sentences per language for BLEU")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("analyze", help="curvature and gradient similarity of a run's checkpoints, with figures")
    p.add_argument("run", nargs="+", help="run folder(s); with several, figures across them too")
    p.add_argument("--labels", default=None, help="comma-separated names of the runs in the figures")
    p.add_argument("--out", default=None, help="folder of the cross-run figures (default: FIRST_RUN/analysis/compare)")
    p.add_argument("--what", default="curvature,gradsim", help="curvature and/or gradsim")
    p.add_argument("--langs", default=None, help="comma-separated languages (default: all)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--iters", type=int, default=20, help="power-iteration steps")
    p.set_defaults(func=cmd_analyze)

    return parser


def _print_help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _add_dataclass_options(
    parser: argparse.ArgumentParser, cls: type, choices: dict[str, list[str]] | None = None
) -> None:
    """One ``--field-name`` option per (scalar) field of a config dataclass, with the field's
    default and help text, so that the defaults live in the dataclass alone."""
    import dataclasses

    from catsmt.config_fields import help_text

    for f in dataclasses.fields(cls):
        default = f.default
        parser.add_argument(
            "--" + f.name.replace("_", "-"), dest=f.name, type=type(default), default=default,
            choices=(choices or {}).get(f.name), help=f"{help_text(f)} (default: {default})",
        )


def _one_line(e: BaseException) -> str:
    """An error message on one line (YAML errors, for one, span several with a caret line)."""
    lines = [line.strip() for line in str(e).splitlines()]
    return " ".join(line for line in lines if line and set(line) != {"^"})


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``catsmt`` console script."""
    from catsmt.config import ConfigError
    from catsmt.data.errors import DataError
    from catsmt.report.compare import CompareStopped
    from catsmt.run.checkpoint import CheckpointError
    from catsmt.run.folder import RunDirError

    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # argparse gives a trailing ``key=value`` list only the words before the first option, so
    # ``data get NAME --out DIR sizes=[...]`` would be refused: collect the later ones too.
    trailing = next((k for k in ("options", "overrides") if isinstance(getattr(args, k, None), list)), None)
    if extra and trailing and all("=" in a and not a.startswith("-") for a in extra):
        getattr(args, trailing).extend(extra)
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
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
        print(f"catsmt: error: {_one_line(e)}", file=sys.stderr)
        return 2
    except (ConfigError, DataError, CheckpointError, RunDirError, CompareStopped, ValueError) as e:
        print(f"catsmt: error: {_one_line(e)}", file=sys.stderr)
        return 1
    except OSError as e:  # a full disk, a folder that is not writable: the message names the path
        print(f"catsmt: error: {_one_line(e)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("catsmt: interrupted", file=sys.stderr)
        return 130
