"""The one helper every config dataclass uses to declare a field with a default and a help text.

Kept apart from :mod:`catsmt.config` so that section dataclasses can be defined in their
own packages without importing the loader.
"""

from __future__ import annotations

import dataclasses
from typing import Any


def option(default: Any, help: str) -> Any:  # noqa: A002 - mirrors argparse
    """A dataclass field with a default and a help text; lists and dicts are copied per instance."""
    if isinstance(default, (list, dict)):
        value = default
        return dataclasses.field(default_factory=lambda: type(value)(value), metadata={"help": help})
    return dataclasses.field(default=default, metadata={"help": help})


def help_text(f: dataclasses.Field[Any]) -> str:
    """The help text of a dataclass field ('' when it has none)."""
    return str(f.metadata.get("help", ""))
