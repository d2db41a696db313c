"""The evaluate stage: one trained run on its scenario (in-domain, balanced, OOD and audits)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from avatar_type.evaluate.run import Evaluation, evaluate_run
from avatar_type.params import section
from avatar_type.runner import write_json
from avatar_type.runs import run_id
from avatar_type.viz import eval_plots


@dataclass(frozen=True)
class EvaluateConfig:
    """The ``evaluate:`` section of params.yaml."""

    robustness_per_class: int  # balanced-test images per class that are corrupted


def run(params: dict[str, Any], params_file: str, model: str, scenario: str, seed: int) -> None:
    cfg = section(params, "evaluate", EvaluateConfig, params_file)
    scenarios = section(params, "split.scenarios", dict[str, dict[str, float] | str], params_file)
    # the scenarios' class shares are the prior-shift audit's test priors ("natural" has none)
    priors = {k: v for k, v in scenarios.items() if isinstance(v, dict)}
    run_dir = run_id(model, scenario, seed)
    result = evaluate_run(
        Path("models") / run_dir,
        Path("data/denoised"),
        Path("data/splits") / f"{scenario}.csv",
        section(params, "seed", int, params_file),
        priors,
        robustness_per_class=cfg.robustness_per_class,
    )
    write_json(Path("metrics/eval") / f"{run_dir}.json", result.metrics)
    out = Path("data/eval") / run_dir
    out.mkdir(parents=True, exist_ok=True)
    result.probabilities.to_csv(out / "probabilities.csv", index=False)
    _plots(result, f"{model} on {scenario} (seed {seed})", Path("plots/eval") / run_dir)


def _plots(result: Evaluation, title: str, plots: Path) -> None:
    """The run's figure and the tables dvc.yaml plots."""
    plots.mkdir(parents=True, exist_ok=True)
    table = result.probabilities
    eval_plots.plot_run(title, result.metrics, table, result.tsne, plots / "evaluation.png")
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
