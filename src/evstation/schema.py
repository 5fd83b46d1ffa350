"""Turning plain YAML data into frozen, typed dataclasses, with one-line errors.

The settings classes in `config` declare their fields with Python type hints and, where a value
has physical limits, with `bounded(...)`. `build(cls, data, path)` walks the hints, so a new
setting needs one line in its dataclass and nothing here. Every error names the key path
(`pv.tilt_deg`) and what is wrong with the value.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import math
import types
import typing
from typing import Any, Literal, get_args, get_origin, get_type_hints

from .errors import ConfigError


def bounded(
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    default: Any = dataclasses.MISSING,
):
    """A dataclass field whose numeric value (or every item of a tuple) must lie in a range."""
    limits = {"ge": ge, "gt": gt, "le": le, "lt": lt}
    return dataclasses.field(default=default, metadata={"limits": limits})


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_limits(value: float, limits: dict, path: str) -> None:
    checks = (
        ("ge", lambda v, b: v >= b, ">="),
        ("gt", lambda v, b: v > b, ">"),
        ("le", lambda v, b: v <= b, "<="),
        ("lt", lambda v, b: v < b, "<"),
    )
    for key, ok, symbol in checks:
        bound = limits.get(key)
        if bound is not None and not ok(value, bound):
            raise ConfigError(f"{path}: must be {symbol} {bound}, got {_describe(value)}")


def _convert(hint: Any, value: Any, path: str, limits: dict | None) -> Any:
    origin = get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = get_args(hint)
        if value is None and type(None) in options:
            return None
        real = [option for option in options if option is not type(None)]
        return _convert(real[0], value, path, limits)
    if origin is Literal:
        allowed = get_args(hint)
        if value not in allowed:
            raise ConfigError(f"{path}: must be one of {', '.join(map(str, allowed))}; got {_describe(value)}")
        return value
    if dataclasses.is_dataclass(hint):
        return build(hint, value, path)
    if origin is tuple:
        item_hint = get_args(hint)[0]
        if not isinstance(value, list):
            raise ConfigError(f"{path}: expected a list, got {_describe(value)}")
        fixed = get_args(hint)
        if len(fixed) > 1 and fixed[1] is not Ellipsis and len(value) != len(fixed):
            raise ConfigError(f"{path}: expected {len(fixed)} items, got {len(value)}")
        return tuple(_convert(item_hint, item, f"{path}[{index}]", limits) for index, item in enumerate(value))
    if origin in (dict, collections.abc.Mapping):
        key_hint, value_hint = get_args(hint)
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: expected a mapping, got {_describe(value)}")
        return types.MappingProxyType(
            {
                _convert(key_hint, key, f"{path}", None): _convert(value_hint, item, f"{path}.{key}", limits)
                for key, item in value.items()
            }
        )
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: expected true or false, got {_describe(value)}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path}: expected a whole number, got {_describe(value)}")
        if limits:
            _check_limits(value, limits, path)
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{path}: expected a number, got {_describe(value)}")
        if not math.isfinite(value):
            raise ConfigError(f"{path}: must be a finite number, got {_describe(value)}")
        if limits:
            _check_limits(float(value), limits, path)
        return float(value)
    if hint is str:
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{path}: expected a non-empty text, got {_describe(value)}")
        return value
    if hint is Any:
        return value
    raise TypeError(f"settings field {path} has an unsupported type {hint!r}")


def build(cls: type, data: Any, path: str = ""):
    """Build dataclass `cls` from mapping `data`, rejecting unknown and missing keys."""
    where = path or "params.yaml"
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of keys, got {_describe(data)}")
    fields = {field.name: field for field in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        known = ", ".join(sorted(fields))
        raise ConfigError(f"{_join(path, unknown[0])}: unknown key (known keys here: {known})")
    hints = get_type_hints(cls)
    values = {}
    for name, field in fields.items():
        key_path = _join(path, name)
        if name not in data:
            if field.default is not dataclasses.MISSING:
                continue
            raise ConfigError(f"{key_path}: missing key")
        values[name] = _convert(hints[name], data[name], key_path, field.metadata.get("limits"))
    instance = cls(**values)
    check = getattr(instance, "check", None)
    if check is not None:
        check(path)
    return instance


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def as_plain(value: Any) -> Any:
    """The settings back as plain dicts, lists and numbers (for hashing, logging and JSON)."""
    if dataclasses.is_dataclass(value):
        return {field.name: as_plain(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, (dict, types.MappingProxyType)):
        return {key: as_plain(item) for key, item in value.items()}
    if isinstance(value, tuple):
        return [as_plain(item) for item in value]
    return value
