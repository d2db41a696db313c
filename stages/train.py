"""DVC stage: train one model (an entry of `models:` in params.yaml) on one scenario's split."""

from avatar_type.params import load_yaml
from avatar_type.runner import run
from avatar_type.stages import train
from avatar_type.stages.args import stage_parser


def main() -> None:
    parser = stage_parser(__doc__, "model", "scenario", "seed")
    parser.add_argument("--device", help="override train.device (auto, cpu, cuda)")
    args = parser.parse_args()
    train.run(
        load_yaml(args.params), args.params, args.model, args.scenario, args.seed, args.device
    )


if __name__ == "__main__":
    run(main)
