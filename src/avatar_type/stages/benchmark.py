"""The benchmark stage: parameters, FLOPs, weight size, latency and throughput of one model's
architecture."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from avatar_type.bench.measure import BenchSettings, shared_benchmark
from avatar_type.params import section
from avatar_type.runner import write_json
from avatar_type.train.config import model_config


def run(params: dict[str, Any], params_file: str, model: str) -> None:
    cfg = model_config(params, model, params_file)
    settings = section(params, "benchmark", BenchSettings, params_file)
    result = shared_benchmark(cfg.arch, cfg.img_size, settings)
    write_json(Path("metrics/bench") / f"{model}.json", {"model": model, **result})
