"""Dataclass configs from YAML-style nested dicts: one strict converter shared by every config in the project.

Model configs (``anomaly_seg.network.config``) and training recipes (``training.config``) both use it, so the
rules (unknown keys rejected, types checked, errors naming the dotted key) are the same everywhere.
"""

from __future__ import annotations

import dataclasses
import types
from pathlib import Path
from typing import Any, Union, cast, get_args, get_origin, get_type_hints

import yaml

from anomaly_seg.errors import ConfigError


def read_yaml_mapping(path: str | Path, what: str) -> dict[str, Any]:
    """The top-level mapping of YAML file ``path`` (an empty file gives ``{}``); :class:`ConfigError` naming the file
    when it cannot be read, is not YAML or is not a mapping. ``what`` names the file's role in messages."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: {what} not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read {what}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level of the {what}")
    return data


def dataclass_to_dict(obj: Any) -> dict[str, Any]:
    """Plain nested dict of a dataclass instance (tuples as lists) that :func:`dataclass_from_dict` reads back."""
    plain: dict[str, Any] = _to_plain(dataclasses.asdict(obj))
    return plain


def _to_plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _to_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_plain(v) for v in value]
    return value


def dataclass_from_dict(cls: type[Any], data: Any, prefix: str = "") -> Any:
    """Build dataclass ``cls`` from nested dicts, converting and checking every field against its type hint.

    Unknown keys, missing mappings and wrong types raise :class:`ConfigError` naming the dotted key.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: expected a mapping, got {type(data).__name__}")
    hints = get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise ConfigError(f"{prefix}{unknown[0]}: unknown key (expected one of {', '.join(names)})")
    kwargs = {name: _convert(data[name], hints[name], f"{prefix}{name}") for name in names if name in data}
    return cls(**kwargs)


def _convert(value: Any, tp: Any, key: str) -> Any:
    origin, args = get_origin(tp), get_args(tp)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _convert(value, inner, key)
    if dataclasses.is_dataclass(tp):
        return dataclass_from_dict(cast(type[Any], tp), {} if value is None else value, f"{key}.")
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(v, args[0], f"{key}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise ConfigError(f"{key}: expected {len(args)} values, got {list(value)}")
        return tuple(_convert(v, a, f"{key}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return value
    raise ConfigError(f"{key}: unsupported type {tp}")
