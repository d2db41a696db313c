"""DVC stage: Grad-CAM wall, pairwise Grad-CAM overlap and confident-mistakes gallery."""

from avatar_type.params import load_yaml
from avatar_type.runner import run
from avatar_type.stages import explain
from avatar_type.stages.args import stage_parser


def main() -> None:
    args = stage_parser(__doc__).parse_args()
    explain.run(load_yaml(args.params), args.params)


if __name__ == "__main__":
    run(main)
