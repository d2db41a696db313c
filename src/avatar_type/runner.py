"""Shared entry-point behaviour for stage scripts and the CLI: logging and clean error exits."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from avatar_type.errors import AvatarTypeError


def run(main: Callable[[], None]) -> None:
    """Run ``main`` with INFO logging; known errors print one clear line and exit 1."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        main()
    except (AvatarTypeError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)


def write_json(path: str | Path, data: Any) -> None:
    """Write pretty, key-sorted JSON (stable diffs for git-tracked metrics)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
