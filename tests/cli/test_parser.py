"""Tests of catsmt.cli.parser: each subcommand reaches the command of its theme module, in the
order ``catsmt --help`` lists them; what callers import from ``catsmt.cli`` stays there."""

from __future__ import annotations

import argparse

import pytest

import catsmt.cli
from catsmt.cli import build_parser

COMMANDS = [  # argv with the required arguments -> the command function it runs
    (["data", "list"], "catsmt.cli.data.cmd_data_list"),
    (["data", "get", "synthetic", "--out", "x"], "catsmt.cli.data.cmd_data_get"),
    (["methods"], "catsmt.cli.reference.cmd_methods"),
    (["train", "c.yaml"], "catsmt.cli.train.cmd_train"),
    (["prepare", "corpus"], "catsmt.cli.data.cmd_prepare"),
    (["config"], "catsmt.cli.reference.cmd_config"),
    (["translate", "m", "--src-lang", "a", "--tgt-lang", "b"], "catsmt.cli.translate.cmd_translate"),
    (["evaluate", "run"], "catsmt.cli.translate.cmd_evaluate"),
    (["export", "run", "out"], "catsmt.cli.translate.cmd_export"),
    (["bench"], "catsmt.cli.experiments.cmd_bench"),
    (["compare", "c.yaml", "--out", "o"], "catsmt.cli.experiments.cmd_compare"),
    (["demo"], "catsmt.cli.experiments.cmd_demo"),
    (["analyze", "run"], "catsmt.cli.experiments.cmd_analyze"),
]


@pytest.mark.parametrize("argv, command", COMMANDS, ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_each_subcommand_runs_its_command(argv, command):
    func = build_parser().parse_args(argv).func
    assert f"{func.__module__}.{func.__name__}" == command


def test_help_lists_the_subcommands_in_their_order():
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert list(sub.choices) == list(dict.fromkeys(argv[0] for argv, _ in COMMANDS))


def test_the_names_callers_import_stay_in_catsmt_cli():
    for name in ("main", "build_parser", "config_reference", "UsageError"):
        assert callable(getattr(catsmt.cli, name)), name


def test_a_percent_sign_in_a_dataclass_help_text_is_shown_as_written(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["bench", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert "on our CPU 6% slower at vocab 8000" in shown
    assert "option_strings" not in shown  # argparse's own %-formatting of the text
