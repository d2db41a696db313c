"""The command line all stage scripts share: the items of dvc.yaml's foreach and matrix stages,
``--params`` and the stage's input and output folders."""

from __future__ import annotations

import argparse
from pathlib import Path

# item name -> its type and help
ITEMS = {
    "source": (str, "a source of sources.yaml (sources: or local:)"),
    "model": (str, "an entry of models: in params.yaml"),
    "scenario": (str, "a scenario of split.scenarios"),
    "seed": (int, "the training seed of the run (one of train.seeds)"),
}


def stage_parser(description: str, *items: str, **paths: str) -> argparse.ArgumentParser:
    """Positional ``items`` (keys of ITEMS), ``--params`` and one ``--NAME`` per path, defaulting
    to the folder dvc.yaml names."""
    parser = argparse.ArgumentParser(description=description)
    for item in items:
        kind, text = ITEMS[item]
        parser.add_argument(item, type=kind, help=text)
    parser.add_argument("--params", default="params.yaml")
    for name, default in paths.items():
        parser.add_argument(f"--{name}", type=Path, default=Path(default))
    return parser
