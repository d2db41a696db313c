"""DVC stage: materialise one source of sources.yaml under data/raw/<source>/."""

import argparse
from pathlib import Path

from avatar_type.errors import SourceError
from avatar_type.params import load_yaml
from avatar_type.runner import run
from avatar_type.sources.fetch import fetch_source
from avatar_type.sources.spec import load_sources


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("source")
    parser.add_argument("--sources", default="sources.yaml")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--out", default="data/raw")
    args = parser.parse_args()
    specs = load_sources(args.sources)
    if args.source not in specs:
        raise SourceError(args.source, f"no such source in {args.sources}")
    seed = int(load_yaml(args.params)["seed"])
    fetch_source(specs[args.source], Path(args.out) / args.source, seed=seed)


if __name__ == "__main__":
    run(main)
