"""``catsmt methods`` and ``catsmt config``: what can be set, read from the dataclasses."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from catsmt.cli.common import UsageError


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

