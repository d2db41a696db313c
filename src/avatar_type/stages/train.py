"""The train stage: one model (an entry of ``models:`` in params.yaml) on one scenario's split."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from avatar_type.device import resolve_device
from avatar_type.params import section
from avatar_type.runs import TrainSettings, run_id
from avatar_type.train.config import model_config
from avatar_type.train.loop import Runtime, train_run


def run(
    params: dict[str, Any],
    params_file: str,
    model: str,
    scenario: str,
    seed: int,
    device: str | None = None,
) -> None:
    """``device`` overrides train.device."""
    cfg = model_config(params, model, params_file)
    common = section(params, "train", TrainSettings, params_file)
    run_dir = run_id(model, scenario, seed)
    runtime = Runtime(
        device=resolve_device(device or common.device, "--device" if device else "train.device"),
        amp=common.amp,
        channels_last=common.channels_last,
        model_dir=Path("models") / run_dir,
        metrics_file=Path("metrics/train") / f"{run_dir}.json",
        live_dir=Path("dvclive/train") / run_dir,
        checkpoint_dir=Path("data/.cache/checkpoints") / run_dir,
        seed=seed,
    )
    split = Path("data/splits") / f"{scenario}.csv"
    train_run(cfg, model, scenario, Path("data/denoised"), split, runtime)
