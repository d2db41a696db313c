"""Typed access to params.yaml sections with errors that name the missing or bad key."""

from __future__ import annotations

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


def section(params: Mapping[str, Any], dotted: str) -> dict[str, Any]:
    """Return the mapping at a dotted key such as ``split.scenarios.d50``."""
    node: Any = params
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            raise ParamsError(f"params: missing key {dotted!r}")
        node = node[part]
    if not isinstance(node, Mapping):
        raise ParamsError(f"params: {dotted!r} must be a mapping")
    return dict(node)


def require(mapping: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    """Return ``mapping[key]`` checked against ``kind``; the error names ``where.key``."""
    if key not in mapping:
        raise ParamsError(f"{where}: missing key {key!r}")
    value = mapping[key]
    if kind in (float, (int, float)) and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise ParamsError(f"{where}.{key}: expected {names}, got {value!r}")
    return value
