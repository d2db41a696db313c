"""The explain stage: Grad-CAM wall, pairwise Grad-CAM overlap and confident-mistakes gallery."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from avatar_type.explain.run import ExplainConfig, explain, overlap_summary
from avatar_type.params import section
from avatar_type.runner import write_json
from avatar_type.runs import TrainSettings, run_id
from avatar_type.viz import explain_plots

PLOTS = Path("plots/explain")


def run(params: dict[str, Any], params_file: str) -> None:
    cfg = section(params, "explain", ExplainConfig, params_file)
    train = section(params, "train", TrainSettings, params_file)
    seed = train.seeds[0]  # the runs of the first training seed are explained
    models = {m: Path("models") / run_id(m, cfg.scenario, seed) for m in train.models}
    result = explain(
        models,
        Path("data/denoised"),
        Path("data/splits") / f"{cfg.scenario}.csv",
        Path("data/eval"),
        cfg,
        section(params, "seed", int, params_file),
        seed,
    )
    write_json(
        Path("metrics/explain.json"),
        {"scenario": cfg.scenario, "seed": seed, "overlap": overlap_summary(result.overlap)},
    )
    PLOTS.mkdir(parents=True, exist_ok=True)
    result.overlap.to_csv(PLOTS / "overlap.csv", index=False, float_format="%.4f")
    explain_plots.plot_wall(result.images, result.captions, result.overlays, PLOTS / "wall.png")
    explain_plots.plot_overlap(result.overlap, list(models), PLOTS / "overlap.png")
    explain_plots.plot_mistakes(result.mistakes, result.mistake_captions, PLOTS / "mistakes.png")
