"""DVC stage: parameters, FLOPs, weight size, latency and throughput of one model's architecture."""

from avatar_type.params import load_yaml
from avatar_type.runner import run
from avatar_type.stages import benchmark
from avatar_type.stages.args import stage_parser


def main() -> None:
    args = stage_parser(__doc__, "model").parse_args()
    benchmark.run(load_yaml(args.params), args.params, args.model)


if __name__ == "__main__":
    run(main)
