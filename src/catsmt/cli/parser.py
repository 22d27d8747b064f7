"""The ``catsmt`` argument parser: one function per subcommand, in the order ``--help`` lists them.

The options' defaults and help texts are written here once; a subcommand's function (its
``func`` default) lives in the command module of its theme.
"""

from __future__ import annotations

import argparse

from catsmt import __version__
from catsmt.cli.data import cmd_data_get, cmd_data_list, cmd_prepare
from catsmt.cli.experiments import cmd_analyze, cmd_bench, cmd_compare, cmd_demo
from catsmt.cli.reference import cmd_config, cmd_methods
from catsmt.cli.train import cmd_train
from catsmt.cli.translate import cmd_evaluate, cmd_export, cmd_translate

Subcommands = argparse._SubParsersAction  # what ``add_subparsers`` returns


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``catsmt`` and all its subcommands."""
    parser = argparse.ArgumentParser(
        prog="catsmt",
        description="Multilingual NMT on imbalanced data with Curvature-Aware Task Scaling (CATS).",
    )
    parser.add_argument("--version", action="version", version=f"catsmt {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in (
        _add_data, _add_methods, _add_train, _add_prepare, _add_config, _add_translate,
        _add_evaluate, _add_export, _add_bench, _add_compare, _add_demo, _add_analyze,
    ):
        add(sub)
    return parser


def _add_data(sub: Subcommands) -> None:
    """``catsmt data`` and its actions ``list`` and ``get``."""
    from catsmt.data.recipes import RECIPES

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


def _add_methods(sub: Subcommands) -> None:
    """``catsmt methods``."""
    p = sub.add_parser("methods", help="list the weighting methods and their hyperparameters")
    p.set_defaults(func=cmd_methods)


def _add_train(sub: Subcommands) -> None:
    """``catsmt train``."""
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


def _add_prepare(sub: Subcommands) -> None:
    """``catsmt prepare``."""
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


def _add_config(sub: Subcommands) -> None:
    """``catsmt config``."""
    import dataclasses

    from catsmt.config import Config

    sections = [f.name for f in dataclasses.fields(Config)]
    p = sub.add_parser(
        "config",
        help="list every config key with its default and help, section by section",
        description="Every key that a YAML config or a key=value override may set, with its type, "
        "default and meaning; weighting.* lists each method's own hyperparameters.",
    )
    p.add_argument("sections", nargs="*", metavar="SECTION", help=f"only these sections: {', '.join(sections)} (default: all)")
    p.set_defaults(func=cmd_config)


def _add_translate(sub: Subcommands) -> None:
    """``catsmt translate``."""
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


def _add_evaluate(sub: Subcommands) -> None:
    """``catsmt evaluate``."""
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


def _add_export(sub: Subcommands) -> None:
    """``catsmt export``."""
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


def _add_bench(sub: Subcommands) -> None:
    """``catsmt bench``: one option per field of :class:`BenchConfig`."""
    from catsmt.bench import PRECISIONS, BenchConfig
    from catsmt.model import PRESETS

    p = sub.add_parser(
        "bench",
        help="benchmark training steps per weighting method, a Hessian-vector product, decoding and the data loader",
        description="Time and peak memory of each case side by side in one process, interleaved, "
        "with medians and ratios to a plain training step; synthetic data, no corpus needed.",
    )
    _add_dataclass_options(p, BenchConfig, choices={"preset": list(PRESETS), "precision": list(PRECISIONS)})
    p.add_argument("--out", metavar="FILE.json", default=None, help="also write the result as JSON")
    p.set_defaults(func=cmd_bench)


def _add_compare(sub: Subcommands) -> None:
    """``catsmt compare``."""
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


def _add_demo(sub: Subcommands) -> None:
    """``catsmt demo``."""
    p = sub.add_parser("demo", help="the main job on a small default: T=1, T=inf and CATS on tatoeba-ted8, equal updates, with a report and a verdict")
    p.add_argument("--data", default="tatoeba-ted8", choices=["tatoeba-ted8", "tatoeba-related", "synthetic"], help="corpus")
    p.add_argument("--out", default="demo", help="output folder")
    p.add_argument("--methods", default="t1,tinf,cats", help="methods to compare")
    p.add_argument("--jobs", type=int, default=0, help="methods trained at once, one process and thread each (0 = all methods at once)")
    p.add_argument("--mirror", default=None, help="offline mirror folder (default: $CATSMT_MIRROR)")
    p.add_argument("--max-steps", type=int, default=1000, help="updates per method (the same for all; no time cap)")
    p.add_argument("--eval-sentences", type=int, default=200, help="test sentences per language for BLEU")
    p.set_defaults(func=cmd_demo)


def _add_analyze(sub: Subcommands) -> None:
    """``catsmt analyze``."""
    p = sub.add_parser("analyze", help="curvature and gradient similarity of a run's checkpoints, with figures")
    p.add_argument("run", nargs="+", help="run folder(s); with several, figures across them too")
    p.add_argument("--labels", default=None, help="comma-separated names of the runs in the figures")
    p.add_argument("--out", default=None, help="folder of the cross-run figures (default: FIRST_RUN/analysis/compare)")
    p.add_argument("--what", default="curvature,gradsim",
                   help="comma-separated: curvature, gradsim, selfsim (the same language on two batches)")
    p.add_argument("--langs", default=None, help="comma-separated languages (default: all)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--iters", type=int, default=20, help="power-iteration steps")
    p.add_argument("--split", choices=("valid", "train"), default="valid",
                   help="measure on a fixed batch per language of valid (the first length-sorted one) "
                        "or of train (a fixed random sample, as the paper does)")
    p.set_defaults(func=cmd_analyze)


def _add_model_options(p: argparse.ArgumentParser) -> None:
    """Options shared by translate and evaluate: which weights, where, how to search."""
    p.add_argument("--checkpoint", default="best", metavar="best|last|FILE", help="checkpoint of the run folder: best, last, or a file (default: best)")
    p.add_argument("--average-last", type=int, default=0, metavar="N", help="average the last N step checkpoints (RUN/checkpoints/step-*.pt)")
    p.add_argument("--beam", type=int, default=None, metavar="N", help="beam size, 1 = greedy (default: the run's decode.beam)")
    p.add_argument("--batch-tokens", type=int, default=None, metavar="N", help="source tokens per batch (default: the run's decode.batch_tokens)")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default: auto)")
    p.add_argument("--threads", type=int, default=0, metavar="N", help="CPU threads for torch (default: 0 = torch's default; 1 is often faster on a busy machine)")


def _add_dataclass_options(
    parser: argparse.ArgumentParser, cls: type, choices: dict[str, list[str]] | None = None
) -> None:
    """One ``--field-name`` option per (scalar) field of a config dataclass, with the field's
    default and help text, so that the defaults live in the dataclass alone (a ``%`` in the
    text escaped, since argparse formats help with ``%``)."""
    import dataclasses

    from catsmt.config_fields import help_text

    for f in dataclasses.fields(cls):
        default = f.default
        parser.add_argument(
            "--" + f.name.replace("_", "-"), dest=f.name, type=type(default), default=default,
            choices=(choices or {}).get(f.name), help=f"{help_text(f)} (default: {default})".replace("%", "%%"),
        )


def _print_help(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2

