"""The fetch stage: materialise one source of sources.yaml under ``<out>/<source>/``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from avatar_type.errors import SourceError
from avatar_type.params import section
from avatar_type.sources.fetch import fetch_source
from avatar_type.sources.spec import load_sources


def run(params: dict[str, Any], params_file: str, source: str, sources: Path, out: Path) -> None:
    specs = load_sources(sources)
    if source not in specs:
        raise SourceError(source, f"no such source in {sources}")
    fetch_source(specs[source], out / source, seed=section(params, "seed", int, params_file))
