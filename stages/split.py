"""DVC stage: the group-aware split of one imbalance scenario."""

from avatar_type.params import load_yaml
from avatar_type.runner import run
from avatar_type.stages import split
from avatar_type.stages.args import stage_parser


def main() -> None:
    args = stage_parser(
        __doc__, "scenario", denoised="data/denoised", out="data/splits"
    ).parse_args()
    split.run(load_yaml(args.params), args.params, args.scenario, args.denoised, args.out)


if __name__ == "__main__":
    run(main)
