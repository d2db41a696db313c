"""DVC stage: Grad-CAM wall, pairwise Grad-CAM overlap and confident-mistakes gallery."""

import argparse
from pathlib import Path

from avatar_type.explain.run import ExplainSettings, explain, overlap_summary
from avatar_type.params import load_yaml
from avatar_type.runner import run, write_json
from avatar_type.runs import run_id
from avatar_type.viz import explain_plots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args()
    params = load_yaml(args.params)
    settings = ExplainSettings.from_params(params["explain"])
    seed = params["train"]["seeds"][0]  # the runs of the first training seed are explained
    models = {
        m: Path("models") / run_id(m, settings.scenario, seed) for m in params["train"]["models"]
    }
    result = explain(
        models,
        Path("data/denoised"),
        Path("data/splits") / f"{settings.scenario}.csv",
        Path("data/eval"),
        settings,
        params["seed"],
        seed,
    )
    write_json(
        Path("metrics/explain.json"),
        {"scenario": settings.scenario, "seed": seed, "overlap": overlap_summary(result.overlap)},
    )
    plots = Path("plots/explain")
    plots.mkdir(parents=True, exist_ok=True)
    result.overlap.to_csv(plots / "overlap.csv", index=False, float_format="%.4f")
    explain_plots.plot_wall(result.images, result.captions, result.overlays, plots / "wall.png")
    explain_plots.plot_overlap(result.overlap, list(models), plots / "overlap.png")
    explain_plots.plot_mistakes(result.mistakes, result.mistake_captions, plots / "mistakes.png")


if __name__ == "__main__":
    run(main)
