"""DVC stage: train one model (an entry of `models:` in params.yaml) on one scenario's split."""

import argparse
from pathlib import Path

from avatar_type.params import load_yaml
from avatar_type.runner import run
from avatar_type.runs import run_id
from avatar_type.train.config import model_config
from avatar_type.train.loop import Runtime, resolve_device, train_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model")
    parser.add_argument("scenario")
    parser.add_argument("seed", type=int, help="training seed (one of train.seeds)")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--device", help="override train.device (auto, cpu, cuda)")
    args = parser.parse_args()
    params = load_yaml(args.params)
    cfg = model_config(params, args.model, args.params)
    common = params["train"]
    run = run_id(args.model, args.scenario, args.seed)
    runtime = Runtime(
        device=resolve_device(args.device or common["device"]),
        amp=bool(common["amp"]),
        channels_last=bool(common["channels_last"]),
        model_dir=Path("models") / run,
        metrics_file=Path("metrics/train") / f"{run}.json",
        live_dir=Path("dvclive/train") / run,
        checkpoint_dir=Path("data/.cache/checkpoints") / run,
        seed=args.seed,
    )
    train_run(
        cfg,
        args.model,
        args.scenario,
        Path("data/denoised"),
        Path("data/splits") / f"{args.scenario}.csv",
        runtime,
    )


if __name__ == "__main__":
    run(main)
