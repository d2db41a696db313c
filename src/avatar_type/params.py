"""Typed access to params.yaml sections with errors that name the missing or bad key."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from avatar_type.errors import ParamsError


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


def require(mapping: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    """Return ``mapping[key]`` checked against ``kind``; the error names ``where.key``."""
    if key not in mapping:
        raise ParamsError(f"{where}: missing key {key!r}")
    value = mapping[key]
    # bool is an int in Python: a flag must not pass for a number, nor a number for a flag
    if not isinstance(value, kind) or isinstance(value, bool) != (kind is bool):
        raise ParamsError(f"{where}.{key}: expected {kind.__name__}, got {value!r}")
    return value


def check_fields(raw: Any, cls: type, where: str) -> None:
    """``raw`` must be a mapping whose keys are all fields of the dataclass ``cls``."""
    if not isinstance(raw, Mapping):
        raise ParamsError(f"{where}: expected a mapping")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(raw) - known
    if unknown:
        raise ParamsError(f"{where}: unknown keys {sorted(unknown)}; known: {sorted(known)}")
