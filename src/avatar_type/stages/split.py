"""The split stage: the group-aware split of one imbalance scenario."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from avatar_type.data import packed
from avatar_type.data.split import make_split, split_summary
from avatar_type.errors import ParamsError
from avatar_type.params import section
from avatar_type.runner import write_json

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SplitConfig:
    """The ``split:`` section of params.yaml."""

    balanced_test_fraction: float
    fractions: dict[str, float]
    max_images: int | None
    unseen: dict[str, dict[str, list[str]]] | None  # part (val, test) -> class -> sources
    scenarios: dict[str, dict[str, float] | str]  # class shares, or "natural"


def run(params: dict[str, Any], params_file: str, scenario: str, denoised: Path, out: Path) -> None:
    cfg = section(params, "split", SplitConfig, params_file)
    if scenario not in cfg.scenarios:
        raise ParamsError(f"{params_file}: split.scenarios has no {scenario!r}")
    _, index = packed.load(denoised)
    split = make_split(
        index,
        cfg.scenarios[scenario],
        section(params, "seed", int, params_file),
        cfg.balanced_test_fraction,
        cfg.fractions,
        cfg.max_images,
        cfg.unseen,
    )
    summary = split_summary(split, index, cfg.unseen)
    if summary["unseen_missing"]:
        log.warning("held-out sources not in the data: %s", ", ".join(summary["unseen_missing"]))
    out.mkdir(parents=True, exist_ok=True)
    split.to_csv(out / f"{scenario}.csv", index=False)
    write_json(f"metrics/split/{scenario}.json", summary)
