"""DVC stage: materialise one source of sources.yaml under data/raw/<source>/."""

from avatar_type.params import load_yaml
from avatar_type.runner import run
from avatar_type.stages import fetch
from avatar_type.stages.args import stage_parser


def main() -> None:
    args = stage_parser(__doc__, "source", sources="sources.yaml", out="data/raw").parse_args()
    fetch.run(load_yaml(args.params), args.params, args.source, args.sources, args.out)


if __name__ == "__main__":
    run(main)
