"""DVC stage: evaluate one trained model on its scenario (in-domain, balanced, OOD and audits)."""

import argparse
from pathlib import Path

import pandas as pd

from avatar_type.evaluate.calibration import reliability_bins
from avatar_type.evaluate.run import evaluate_run
from avatar_type.labels import CLASS_TO_INDEX, CLASSES
from avatar_type.params import load_yaml
from avatar_type.runner import run, write_json


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model")
    parser.add_argument("scenario")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args()
    seed = int(load_yaml(args.params)["seed"])
    run_id = Path(args.model) / args.scenario
    metrics, table = evaluate_run(
        Path("models") / run_id,
        Path("data/denoised"),
        Path("data/splits") / f"{args.scenario}.csv",
        seed,
    )
    write_json(Path("metrics/eval") / f"{run_id}.json", metrics)
    out = Path("data/eval") / run_id
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "probabilities.csv", index=False)

    plots = Path("plots/eval") / run_id
    plots.mkdir(parents=True, exist_ok=True)
    balanced = table[table["set"] == "balanced_test"]
    balanced[["label", "predicted"]].rename(columns={"label": "actual"}).to_csv(
        plots / "confusion_balanced.csv", index=False
    )
    test = table[table["set"] == "test"]
    bins = reliability_bins(
        test[[f"p_{c}" for c in CLASSES]].to_numpy(),
        test["label"].map(CLASS_TO_INDEX).to_numpy(),
        15,
    )
    pd.DataFrame(
        {"confidence": bins["confidence"], "accuracy": bins["accuracy"], "count": bins["count"]}
    )[bins["count"] > 0].to_csv(plots / "reliability.csv", index=False)


if __name__ == "__main__":
    run(main)
