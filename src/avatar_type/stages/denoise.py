"""The denoise stage: the CoherentNoiseFilter (if enabled) and the images packed into one array."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from avatar_type.data.denoise_set import denoise_set
from avatar_type.params import section
from avatar_type.runner import write_json


@dataclass(frozen=True)
class DenoiseConfig:
    """The ``denoise:`` section of params.yaml."""

    enabled: bool
    tolerance: int  # pixel values <= t or >= 255 - t in any channel are suspect


def run(params: dict[str, Any], params_file: str, aggregated: Path, out: Path) -> None:
    cfg = section(params, "denoise", DenoiseConfig, params_file)
    write_json("metrics/denoise.json", denoise_set(aggregated, out, cfg.enabled, cfg.tolerance))
