"""Typed access to params.yaml: each section becomes a frozen dataclass, with errors that name
the file, the section and the missing or bad key."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

from avatar_type.errors import ParamsError

T = TypeVar("T")


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping; raise ParamsError naming the file if it is missing or not a mapping."""
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"{path}: file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: invalid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ParamsError(f"{path}: expected a mapping at the top level")
    return data


def section(params: Mapping[str, Any], name: str, cls: type[T], file: str = "params.yaml") -> T:
    """``params[name]`` (a dotted path: ``models.simple_cnn``) as ``cls``: a dataclass built by
    ``from_mapping``, or a plain type (``int`` for ``seed``) that the value must have."""
    value: Any = params
    parent = ""
    for key in name.split("."):
        if not isinstance(value, Mapping) or key not in value:
            missing = f"{parent} has no entry" if parent else "no section"
            raise ParamsError(f"{file}: {missing} {key!r}")
        value, parent = value[key], f"{parent}.{key}".lstrip(".")
    where = f"{file}: {name}"
    if dataclasses.is_dataclass(cls):
        return from_mapping(value, cls, where)
    if not _matches(value, cls):
        raise ParamsError(f"{where}: expected {_name(cls)}, got {value!r}")
    return value


def from_mapping(raw: Any, cls: type[T], where: str) -> T:
    """The frozen dataclass ``cls`` from a mapping of its fields.

    Unknown keys, missing required fields (those without a default) and values of the wrong
    type are ParamsErrors naming ``where.key``; dataclass-typed fields are built the same way,
    and a ``validate(where)`` method, where ``cls`` has one, checks ranges last.
    """
    if not isinstance(raw, Mapping):
        raise ParamsError(f"{where}: expected a mapping, got {raw!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ParamsError(f"{where}: unknown keys {unknown}; known: {sorted(fields)}")
    hints = typing.get_type_hints(cls)
    values = {}
    for key, field in fields.items():
        if key in raw:
            values[key] = _value(raw[key], hints[key], f"{where}.{key}")
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise ParamsError(f"{where}: missing key {key!r}")
    cfg = cls(**values)
    if hasattr(cfg, "validate"):
        cfg.validate(where)
    return cfg


def _value(value: Any, kind: Any, where: str) -> Any:
    nested = [k for k in _members(kind) if dataclasses.is_dataclass(k)]
    if nested and isinstance(value, Mapping):
        return from_mapping(value, nested[0], where)
    if not _matches(value, kind):
        # YAML 1.1 reads 1e-3 (no dot) as a string
        hint = " (YAML reads 1e-3 as text: write 0.001 or 1.0e-3)" if _numeric(value) else ""
        raise ParamsError(f"{where}: expected {_name(kind)}, got {value!r}{hint}")
    return value


def _members(kind: Any) -> tuple[Any, ...]:
    """The alternatives of a union (``int | None``), else ``kind`` alone."""
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        return typing.get_args(kind)
    return (kind,)


def _matches(value: Any, kind: Any) -> bool:
    if kind is Any:
        return True
    if len(members := _members(kind)) > 1:
        return any(_matches(value, k) for k in members)
    if kind is type(None):
        return value is None
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin is list:
        return isinstance(value, list) and all(_matches(v, args[0]) for v in value)
    if origin is dict:
        return isinstance(value, dict) and all(_matches(v, args[1]) for v in value.values())
    # bool is an int in Python: a flag must not pass for a number, nor a number for a flag
    if isinstance(value, bool):
        return kind is bool
    if kind is float:
        return isinstance(value, int | float)
    return isinstance(value, kind)


def _name(kind: Any) -> str:
    if len(members := _members(kind)) > 1:
        return " or ".join(_name(k) for k in members)
    if kind is type(None):
        return "null"
    return {dict: "a mapping", list: "a list"}.get(typing.get_origin(kind) or kind, kind.__name__)


def _numeric(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return isinstance(value, str)
