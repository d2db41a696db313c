"""DVC stage: ensembles of every trained model of one scenario, and their diversity."""

import argparse
from pathlib import Path

from avatar_type.ensemble.combine import correctness_correlation, ensemble_report, load_predictions
from avatar_type.evaluate.predict import read_tables
from avatar_type.params import load_yaml, require
from avatar_type.runner import run, write_json
from avatar_type.viz.ensemble_plots import macro_f1_rows, plot_ensembles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("scenario")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args()
    params = load_yaml(args.params)
    max_size = require(params["ensemble"], "max_subset_size", int, "ensemble")
    # ensembles combine the runs of the first training seed
    seed = params["train"]["seeds"][0]
    preds = load_predictions(
        read_tables(Path("data/eval"), params["train"]["models"], args.scenario, seed)
    )
    report = {"seed": seed, **ensemble_report(preds, max_size)}
    correlation = correctness_correlation(preds)
    report["correctness_correlation"] = correlation.round(4).to_dict()
    write_json(Path("metrics/ensemble") / f"{args.scenario}.json", report)

    plots = Path("plots/ensemble") / args.scenario
    plots.mkdir(parents=True, exist_ok=True)
    macro_f1_rows(report).to_csv(plots / "macro_f1.csv", index=False, float_format="%.4f")
    plot_ensembles(f"Ensembles on {args.scenario}", report, correlation, plots / "ensembles.png")


if __name__ == "__main__":
    run(main)
