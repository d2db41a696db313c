"""Shared entry-point behaviour for stage scripts and the CLI: logging and clean error exits."""

from __future__ import annotations

import json
import logging
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from avatar_type.errors import AvatarTypeError


def run(main: Callable[[], None]) -> None:
    """Run ``main`` with INFO logging; the project's own errors (user errors: bad params,
    sources or inputs) print one clear line and exit 1. Anything else is a bug or a library's
    failure and keeps its traceback."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        main()
    except AvatarTypeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)


def _finite(data: Any) -> Any:
    """NaN and infinities become null: JSON has no such numbers and DVC rejects them."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: _finite(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_finite(v) for v in data]
    return data


def write_json(path: str | Path, data: Any) -> None:
    """Write pretty, key-sorted JSON (stable diffs for git-tracked metrics)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(_finite(data), indent=2, sort_keys=True, allow_nan=False)
    path.write_text(text + "\n", encoding="utf-8")
