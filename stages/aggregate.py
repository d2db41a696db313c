"""DVC stage: decode, validate, normalise and deduplicate every fetched source; audit shortcuts."""

from avatar_type.params import load_yaml
from avatar_type.runner import run
from avatar_type.stages import aggregate
from avatar_type.stages.args import stage_parser


def main() -> None:
    args = stage_parser(__doc__, raw="data/raw", out="data/aggregated").parse_args()
    aggregate.run(load_yaml(args.params), args.params, args.raw, args.out)


if __name__ == "__main__":
    run(main)
