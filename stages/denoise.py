"""DVC stage: apply the CoherentNoiseFilter (if enabled) and pack the images into one array."""

from avatar_type.params import load_yaml
from avatar_type.runner import run
from avatar_type.stages import denoise
from avatar_type.stages.args import stage_parser


def main() -> None:
    args = stage_parser(__doc__, aggregated="data/aggregated", out="data/denoised").parse_args()
    denoise.run(load_yaml(args.params), args.params, args.aggregated, args.out)


if __name__ == "__main__":
    run(main)
