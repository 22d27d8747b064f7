"""The bottom of the configuration layer: declaring fields, and building dataclasses from data.

:func:`option` declares a field with a default and a help text; :func:`from_dict` builds any
config dataclass from a mapping strictly (unknown keys and wrong types are a
:class:`ConfigError` naming the key); :func:`to_dict` turns one back into plain data. Kept
apart from :mod:`catsmt.config` (the YAML loader and the whole-run ``Config``) so that every
section -- data, model, training, weighting, recipes, benchmarks -- can be defined in its own
package and import this module without importing the loader, which imports them all.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar, Union

T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration that cannot be loaded: unknown key, wrong type, invalid value."""


def option(default: Any, help: str) -> Any:  # noqa: A002 - mirrors argparse
    """A dataclass field with a default and a help text; lists and dicts are copied per instance."""
    if isinstance(default, (list, dict)):
        value = default
        return dataclasses.field(default_factory=lambda: type(value)(value), metadata={"help": help})
    return dataclasses.field(default=default, metadata={"help": help})


def help_text(f: dataclasses.Field[Any]) -> str:
    """The help text of a dataclass field ('' when it has none)."""
    return str(f.metadata.get("help", ""))


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
