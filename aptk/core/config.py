"""Typed stage configs: dataclasses built strictly from dicts / Hydra DictConfigs.

Each component owns a dataclass whose fields map one to one onto a Hydra YAML group. `build()`
rejects unknown keys and wrong types with the dotted key named, then calls `validate()` on every
nested config so bad values fail before any work starts.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, TypeVar

from aptk.core.errors import ConfigError

T = TypeVar("T")


def _to_plain(d: Any) -> Any:
    try:
        from omegaconf import DictConfig, ListConfig, OmegaConf

        if isinstance(d, (DictConfig, ListConfig)):
            return OmegaConf.to_container(d, resolve=True)
    except ImportError:  # pragma: no cover
        pass
    return d


def _coerce(tp: Any, value: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(a, value, key)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(key, f"value {value!r} matches none of {tp}")
    if dataclasses.is_dataclass(tp):
        return build(tp, value, prefix=key, validate=False)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(key, f"expected a list, got {type(value).__name__} {value!r}")
        (arg,) = typing.get_args(tp)[:1] or (Any,)
        items = [_coerce(arg, v, f"{key}.{i}") for i, v in enumerate(value)]
        return items if origin is list else tuple(items)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(key, f"expected a mapping, got {type(value).__name__}")
        _, vt = typing.get_args(tp) or (Any, Any)
        return {k: _coerce(vt, v, f"{key}.{k}") for k, v in value.items()}
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(key, f"expected a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(key, f"expected an integer, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(key, f"expected true/false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ConfigError(key, f"expected a string, got {value!r}")
        return str(value)
    return value


def build(cls: type[T], data: Any, prefix: str = "", validate: bool = True) -> T:
    """Build dataclass `cls` from a mapping; unknown keys and type errors name the dotted key."""
    data = _to_plain(data)
    if data is None:
        data = {}
    if isinstance(data, cls):
        return data
    if not isinstance(data, dict):
        raise ConfigError(prefix or cls.__name__, f"expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        k = f"{prefix}.{unknown[0]}" if prefix else unknown[0]
        raise ConfigError(k, f"unknown key (valid keys: {', '.join(sorted(fields))})")
    kwargs = {
        name: _coerce(hints[name], v, f"{prefix}.{name}" if prefix else name)
        for name, v in data.items()
    }
    obj = cls(**kwargs)
    if validate:
        validate_all(obj, prefix)
    return obj


def validate_all(obj: Any, prefix: str = "") -> None:
    """Call validate(prefix) on obj and every nested dataclass, innermost first."""
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        key = f"{prefix}.{f.name}" if prefix else f.name
        if dataclasses.is_dataclass(v):
            validate_all(v, key)
        elif isinstance(v, list):
            for i, item in enumerate(v):
                if dataclasses.is_dataclass(item):
                    validate_all(item, f"{key}.{i}")
    fn = getattr(obj, "validate", None)
    if callable(fn):
        fn(prefix)


def asdict(obj: Any) -> dict:
    return dataclasses.asdict(obj)


def check(cond: bool, prefix: str, field: str, msg: str) -> None:
    """Raise ConfigError for `prefix.field` unless cond holds (helper for validate())."""
    if not cond:
        raise ConfigError(f"{prefix}.{field}" if prefix else field, msg)
