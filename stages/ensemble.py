"""DVC stage: ensembles of every trained model of one scenario, and their diversity."""

from avatar_type.params import load_yaml
from avatar_type.runner import run
from avatar_type.stages import ensemble
from avatar_type.stages.args import stage_parser


def main() -> None:
    args = stage_parser(__doc__, "scenario").parse_args()
    ensemble.run(load_yaml(args.params), args.params, args.scenario)


if __name__ == "__main__":
    run(main)
