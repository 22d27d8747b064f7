"""Typed configuration: dataclasses with their defaults, loaded from YAML plus ``key=value`` overrides.

Every section is a ``@dataclass`` whose fields carry the default and a help text
(``field(metadata={"help": ...})``). Loading is strict: an unknown key raises
:class:`ConfigError` naming the section and suggesting the nearest valid key, and a value of
the wrong type names the key and the type that was expected. Nothing in catsmt reads
``cfg.get(key, default)``: the dataclass is the only place a default lives.

The ``weighting`` section is flat (``weighting.method: cats`` next to CATS's own
hyperparameters); its keys are checked against the chosen method's hyperparameter dataclass
from :data:`catsmt.weighting.WEIGHTINGS`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from catsmt.config_fields import (  # noqa: F401 - re-exported: the loader's public names
    ConfigError,
    from_dict,
    help_text,
    option,
    to_dict,
    unknown_key_error,
)
from catsmt.data.config import DataConfig
from catsmt.decoding.config import DecodeConfig
from catsmt.model.config import ModelConfig
from catsmt.training.config import TrainConfig
from catsmt.weighting.config import WeightingConfig


@dataclasses.dataclass
class Config:
    """The whole configuration of a run: one field per section."""

    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    weighting: WeightingConfig = dataclasses.field(default_factory=WeightingConfig)
    decode: DecodeConfig = dataclasses.field(default_factory=DecodeConfig)

    def to_dict(self) -> dict[str, Any]:
        """The resolved configuration as plain YAML-able data."""
        return to_dict(self)


def parse_overrides(overrides: Sequence[str]) -> dict[str, Any]:
    """Turn ``["train.max_steps=100", "model.preset=tiny"]`` into a nested mapping.

    Values are parsed as YAML scalars or lists (``a,b`` stays a string and is split by the
    list coercion if the field is a list).

    Raises:
        ConfigError: an override without ``=`` or with an empty key.
    """
    nested: dict[str, Any] = {}
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override '{item}' is not of the form section.key=value")
        key, _, raw = item.partition("=")
        parts = [p for p in key.strip().split(".")]
        if not all(parts):
            raise ConfigError(f"override '{item}' has an empty key")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        node = nested
        for p in parts[:-1]:
            child = node.setdefault(p, {})
            if not isinstance(child, dict):
                raise ConfigError(f"override '{item}' conflicts with an earlier override of '{p}'")
            node = child
        node[parts[-1]] = value
    return nested


def merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge ``update`` into a copy of ``base``."""
    out = dict(base)
    for k, v in update.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out


class DuplicateKeyError(yaml.YAMLError):
    """A YAML mapping that names a key twice (PyYAML would keep the last one silently)."""


class UniqueKeyLoader(yaml.SafeLoader):
    """:class:`yaml.SafeLoader` that refuses a mapping naming a key twice.

    Two ``data:`` blocks in one file are a mistake (an edit pasted below the original), and
    the plain loader drops the first without a word. Merge keys (``<<: *defaults``) may still
    be overridden: that is what they are for.
    """

    def construct_document(self, node: yaml.Node) -> Any:
        self._check_unique(node, "", set())
        return super().construct_document(node)

    def _check_unique(self, node: yaml.Node, where: str, seen: set[int]) -> None:
        if id(node) in seen:  # an alias met again (a recursive structure): checked already
            return
        seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self._check_unique(item, f"{where}[{i}]", seen)
        elif isinstance(node, yaml.MappingNode):
            first: dict[Any, int] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                name = f"{where}.{key}" if where else str(key)
                line = key_node.start_mark.line + 1
                try:
                    earlier = first.get(key)
                except TypeError:  # an unhashable key: the constructor reports it
                    continue
                if earlier is not None:
                    raise DuplicateKeyError(
                        f"line {line}: duplicate key '{name}' (first given at line {earlier}); "
                        "each key may appear once"
                    )
                first[key] = line
                self._check_unique(value_node, name, seen)


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping, with errors that name the file.

    Raises:
        ConfigError: the file is missing, unreadable, not YAML, not a mapping, or has a
            mapping that names a key twice (the error names the key and its line).
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise ConfigError(f"config file not found: {p}") from e
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read config file {p}: {e}") from e
    try:
        data = yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506 - a SafeLoader
    except DuplicateKeyError as e:
        raise ConfigError(f"{p}: {e}") from e
    except yaml.YAMLError as e:
        raise ConfigError(f"{p}: not valid YAML: {e}") from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: expected a mapping of sections at the top level")
    return data


def load_config(path: str | Path | None = None, overrides: Sequence[str] = ()) -> Config:
    """Load a :class:`Config` from an optional YAML file and ``key=value`` overrides.

    An override of ``weighting.method`` that names another method than the file's drops the
    file's weighting hyperparameters (they belong to the other method); ``weighting.*``
    overrides given with it still apply.

    Raises:
        ConfigError: for any invalid file, key or value.
    """
    data = read_yaml(path) if path is not None else {}
    updates = parse_overrides(overrides)
    # Choosing another weighting method on the command line starts that section afresh:
    # the file's hyperparameters belong to the file's method.
    new_method = updates.get("weighting", {}).get("method")
    old = data.get("weighting")
    if new_method is not None and isinstance(old, dict) and old.get("method", "temperature") != new_method:
        data = {**data, "weighting": {}}
    data = merge(data, updates)
    return from_dict(Config, data)


def save_config(cfg: Config, path: str | Path) -> None:
    """Write the resolved configuration as YAML (``inf`` written as ``.inf``)."""
    Path(path).write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False), encoding="utf-8")
