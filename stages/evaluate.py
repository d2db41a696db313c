"""DVC stage: evaluate one trained model on its scenario (in-domain, balanced, OOD and audits)."""

import argparse
from pathlib import Path

from avatar_type.evaluate.run import evaluate_run
from avatar_type.params import load_yaml, require
from avatar_type.runner import run, write_json
from avatar_type.runs import run_id
from avatar_type.viz import eval_plots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model")
    parser.add_argument("scenario")
    parser.add_argument("seed", type=int, help="the training seed of the run")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args()
    params = load_yaml(args.params)
    seed = int(params["seed"])
    # the scenarios' class shares are the prior-shift audit's test priors ("natural" has none)
    priors = {k: v for k, v in params["split"]["scenarios"].items() if isinstance(v, dict)}
    run = run_id(args.model, args.scenario, args.seed)
    result = evaluate_run(
        Path("models") / run,
        Path("data/denoised"),
        Path("data/splits") / f"{args.scenario}.csv",
        seed,
        priors,
        robustness_per_class=require(params["evaluate"], "robustness_per_class", int, "evaluate"),
    )
    write_json(Path("metrics/eval") / f"{run}.json", result.metrics)
    out = Path("data/eval") / run
    out.mkdir(parents=True, exist_ok=True)
    result.probabilities.to_csv(out / "probabilities.csv", index=False)

    plots = Path("plots/eval") / run
    plots.mkdir(parents=True, exist_ok=True)
    eval_plots.plot_run(
        f"{args.model} on {args.scenario} (seed {args.seed})",
        result.metrics,
        result.probabilities,
        result.tsne,
        plots / "evaluation.png",
    )
    table = result.probabilities
    eval_plots.confusion_rows(table, "balanced_test").to_csv(
        plots / "confusion_balanced.csv", index=False
    )
    eval_plots.reliability_rows(table).to_csv(plots / "reliability.csv", index=False)
    eval_plots.bias_rows(table).to_csv(plots / "bias_map.csv", index=False)
    result.tsne.to_csv(plots / "tsne.csv", index=False, float_format="%.4f")
    if "robustness" in result.metrics:
        eval_plots.robustness_rows(result.metrics["robustness"]).to_csv(
            plots / "robustness.csv", index=False, float_format="%.4f"
        )


if __name__ == "__main__":
    run(main)
