"""``catsmt config``: every key with its default and help, read from the dataclasses; the
README shows its first lines as they are."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

import pytest

from catsmt.cli import config_reference, main
from catsmt.config import Config
from catsmt.config_fields import help_text
from catsmt.weighting import WEIGHTINGS

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_key_of_every_section_with_its_default_and_help() -> None:
    text = config_reference()
    lines = text.splitlines()
    hints = typing.get_type_hints(Config)
    for section in dataclasses.fields(Config):
        cls = hints[section.name]
        assert any(line.startswith(f"{section.name}: The `{section.name}` config section") for line in lines)
        for f in dataclasses.fields(cls):
            if f.name == "params":  # weighting's: one block per method below
                continue
            key = [i for i, line in enumerate(lines) if line.startswith(f"  {section.name}.{f.name}: ")]
            assert len(key) == 1, f"{section.name}.{f.name}"
            assert " ".join(help_text(f).split()[:4]) in lines[key[0] + 1]
    for name, method in WEIGHTINGS.items():
        assert f"  with weighting.method={name}: " in text
        for f in dataclasses.fields(method.Params):
            assert f"    weighting.{f.name}: " in text, f"{name}: {f.name}"
    assert "  data.pivot: str = eng\n" in text and "  data.langs: list[str] = []\n" in text
    assert "  train.max_steps: int = 1000\n" in text and "weighting.params" not in text
    assert "    weighting.temperature: float = .inf\n" in text  # CATS's, as YAML writes inf


def test_one_section_and_an_unknown_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "decode"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("decode: ") and "data." not in out and "  decode.beam: int = 5\n" in out
    assert main(["config", "dat"]) == 2
    assert "unknown config section 'dat'; valid sections: data, model, train, weighting, decode" in capsys.readouterr().err


def test_the_readme_shows_the_first_lines_as_printed() -> None:
    readme = README.read_text(encoding="utf-8")
    block = readme.split("### Every config key", 1)[1].split("```\n", 1)[1].split("\n...\n```", 1)[0]
    shown = block.splitlines()
    assert len(shown) >= 10
    assert shown == config_reference().splitlines()[: len(shown)], "README.md: run `catsmt config | head` and paste it"
