"""DVC stage: parameters, FLOPs, weight size, latency and throughput of one model's architecture."""

import argparse
from pathlib import Path

from avatar_type.bench.measure import BenchSettings, benchmark_model
from avatar_type.params import load_yaml, require
from avatar_type.runner import run, write_json
from avatar_type.train.config import TrainConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args()
    params = load_yaml(args.params)
    models = params.get("models") or {}
    if args.model not in models:
        raise ValueError(f"{args.params}: models has no entry {args.model!r}")
    cfg = TrainConfig.from_params(models[args.model], f"models.{args.model}")
    settings = BenchSettings.from_params(
        require(params, "benchmark", dict, args.params), "benchmark"
    )
    result = benchmark_model(cfg.arch, cfg.img_size, settings, progress=True)
    write_json(Path("metrics/bench") / f"{args.model}.json", {"model": args.model, **result})


if __name__ == "__main__":
    run(main)
