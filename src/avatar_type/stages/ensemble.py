"""The ensemble stage: ensembles of every trained model of one scenario, and their diversity."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from avatar_type.ensemble.combine import correctness_correlation, ensemble_report, load_predictions
from avatar_type.evaluate.predict import read_tables
from avatar_type.params import section
from avatar_type.runner import write_json
from avatar_type.runs import TrainSettings
from avatar_type.viz.ensemble_plots import macro_f1_rows, plot_ensembles


@dataclass(frozen=True)
class EnsembleConfig:
    """The ``ensemble:`` section of params.yaml."""

    max_subset_size: int  # the best subset of at most this many models, chosen on validation


def run(params: dict[str, Any], params_file: str, scenario: str) -> None:
    cfg = section(params, "ensemble", EnsembleConfig, params_file)
    train = section(params, "train", TrainSettings, params_file)
    seed = train.seeds[0]  # ensembles combine the runs of the first training seed
    preds = load_predictions(read_tables(Path("data/eval"), train.models, scenario, seed))
    report = {"seed": seed, **ensemble_report(preds, cfg.max_subset_size)}
    correlation = correctness_correlation(preds)
    report["correctness_correlation"] = correlation.round(4).to_dict()
    write_json(Path("metrics/ensemble") / f"{scenario}.json", report)

    plots = Path("plots/ensemble") / scenario
    plots.mkdir(parents=True, exist_ok=True)
    macro_f1_rows(report).to_csv(plots / "macro_f1.csv", index=False, float_format="%.4f")
    plot_ensembles(f"Ensembles on {scenario}", report, correlation, plots / "ensembles.png")
