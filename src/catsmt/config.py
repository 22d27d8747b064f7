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
import difflib
import math
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar, Union

import yaml

from catsmt.config_fields import help_text, option  # noqa: F401 - re-exported
from catsmt.data.config import DataConfig
from catsmt.decoding.config import DecodeConfig
from catsmt.model.config import ModelConfig
from catsmt.training.config import TrainConfig
from catsmt.weighting.config import WeightingConfig

T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration that cannot be loaded: unknown key, wrong type, invalid value."""


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


def _suggest(key: str, valid: Sequence[str]) -> str:
    close = difflib.get_close_matches(key, list(valid), n=1, cutoff=0.6)
    if close:
        return f"; did you mean '{close[0]}'?"
    return f"; valid keys: {', '.join(sorted(valid))}"


def unknown_key_error(key: str, section: str, valid: Sequence[str]) -> ConfigError:
    where = f" in {section}" if section else ""
    return ConfigError(f"unknown key '{key}'{where}{_suggest(key, valid)}")


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Convert ``value`` (from YAML or the command line) to the annotated type ``tp``."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0] if errors else f"{where}: cannot be {value!r}")
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if dataclasses.is_dataclass(value) and isinstance(value, tp):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping of {tp.__name__} fields, got {value!r}")
        return from_dict(tp, value, where)
    if origin in (list, tuple, Sequence) or tp in (list, tuple):
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()] if value.strip() else []
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        inner = args[0] if args else Any
        items = [_coerce(v, inner, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple or tp is tuple else items
    if origin in (dict, Mapping) or tp is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        kt, vt = args if args else (Any, Any)
        return {_coerce(k, kt, where): _coerce(v, vt, f"{where}.{k}") for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "1", "on", "false", "no", "0", "off"):
            return value.lower() in ("true", "yes", "1", "on")
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.replace("_", ""))
            except ValueError:
                pass
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            text = value.strip().lower()
            if text in ("inf", ".inf", "infinity", "+inf"):
                return math.inf
            try:
                return float(text)
            except ValueError:
                pass
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    return value


def from_dict(
    cls: type[T], data: Mapping[str, Any], section: str = "", use_hook: bool = True
) -> T:
    """Build dataclass ``cls`` from a mapping, strictly.

    Args:
        cls: the dataclass type.
        data: keys and values; missing keys take the field defaults.
        section: dotted name of the section, used in error messages.
        use_hook: call ``cls.from_mapping`` when the class defines one (sections with
            presets or a method-dependent schema); the hook itself passes False.

    Raises:
        ConfigError: an unknown key (with a suggestion) or a value of the wrong type.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"{section or cls.__name__}: expected a mapping, got {data!r}")
    custom = getattr(cls, "from_mapping", None) if use_hook else None
    if custom is not None:
        return typing.cast(T, custom(data, section))
    assert dataclasses.is_dataclass(cls)
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in fields:
            raise unknown_key_error(str(key), section, list(fields))
        where = f"{section}.{key}" if section else str(key)
        kwargs[key] = _coerce(value, hints[key], where)
    try:
        obj = cls(**kwargs)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{section or cls.__name__}: {e}") from e
    validate = getattr(obj, "validate", None)
    if validate is not None:
        try:
            validate()
        except ValueError as e:
            raise ConfigError(f"{section or cls.__name__}: {e}") from e
    return obj


def to_dict(obj: Any) -> Any:
    """Plain data (dicts, lists, scalars) from dataclasses, recursively; ``inf`` stays a float."""
    custom = getattr(obj, "to_mapping", None)
    if custom is not None:
        return custom()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    if isinstance(obj, Mapping):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


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


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping, with errors that name the file.

    Raises:
        ConfigError: the file is missing, unreadable, not YAML, or not a mapping.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise ConfigError(f"config file not found: {p}") from e
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read config file {p}: {e}") from e
    try:
        data = yaml.safe_load(text)
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
