"""DVC stage: evaluate one trained model on its scenario (in-domain, balanced, OOD and audits)."""

from avatar_type.params import load_yaml
from avatar_type.runner import run
from avatar_type.stages import evaluate
from avatar_type.stages.args import stage_parser


def main() -> None:
    args = stage_parser(__doc__, "model", "scenario", "seed").parse_args()
    evaluate.run(load_yaml(args.params), args.params, args.model, args.scenario, args.seed)


if __name__ == "__main__":
    run(main)
