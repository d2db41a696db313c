"""DVC stage: apply the CoherentNoiseFilter (if enabled) and pack the images into one array."""

import argparse
from pathlib import Path

from avatar_type.data.denoise_set import denoise_set
from avatar_type.params import load_yaml, require
from avatar_type.runner import run, write_json


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--aggregated", default="data/aggregated")
    parser.add_argument("--out", default="data/denoised")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args()
    section = load_yaml(args.params)["denoise"]
    result = denoise_set(
        Path(args.aggregated),
        Path(args.out),
        require(section, "enabled", bool, "denoise"),
        require(section, "tolerance", int, "denoise"),
    )
    write_json("metrics/denoise.json", result)


if __name__ == "__main__":
    run(main)
