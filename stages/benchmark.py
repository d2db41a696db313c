"""DVC stage: parameters, FLOPs, weight size, latency and throughput of one model's architecture."""

import argparse
from pathlib import Path

from avatar_type.bench.measure import BenchSettings, shared_benchmark
from avatar_type.params import load_yaml, require
from avatar_type.runner import run, write_json
from avatar_type.train.config import model_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args()
    params = load_yaml(args.params)
    cfg = model_config(params, args.model, args.params)
    settings = BenchSettings.from_params(
        require(params, "benchmark", dict, args.params), "benchmark"
    )
    result = shared_benchmark(cfg.arch, cfg.img_size, settings)
    write_json(Path("metrics/bench") / f"{args.model}.json", {"model": args.model, **result})


if __name__ == "__main__":
    run(main)
