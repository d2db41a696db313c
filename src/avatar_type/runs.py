"""One run is one model trained on one scenario with one seed; this is where its outputs live.

Every stage and the CLI find a run's folders through ``run_id``, so the layout
(``<model>/<scenario>/s<seed>`` under models/, metrics/train/, metrics/eval/, data/eval/,
plots/eval/ and dvclive/train/) is written down once, as in dvc.yaml.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


def run_id(model: str, scenario: str, seed: int) -> Path:
    """The relative path of one run's outputs."""
    return Path(model) / scenario / f"s{int(seed)}"


@dataclass(frozen=True)
class TrainSettings:
    """The ``train:`` section of params.yaml: which runs the pipeline makes and how they train."""

    device: str  # auto (CUDA when present), cpu, cuda
    amp: bool
    channels_last: bool
    models: list[str]
    scenarios: list[str]
    seeds: list[int]
