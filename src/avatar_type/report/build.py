"""Assemble the integrated report: figures, tables, ranking, Markdown, HTML and summary metrics."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from avatar_type.bench.plots import bench_table, plot_speed_vs_complexity
from avatar_type.report import document as doc
from avatar_type.report.collect import Results
from avatar_type.report.score import ScoreTerm, integrated_scores, metric_table
from avatar_type.viz import report_plots


@dataclass(frozen=True)
class ReportInputs:
    """Where the stage figures are, and the per-image predictions of the reference scenario."""

    plots_dir: Path  # plots/ (eval, ensemble, explain, aggregate figures)
    out_dir: Path  # reports/
    predictions: dict[str, pd.DataFrame]  # model -> evaluate's probabilities on the reference
    sources: pd.Series  # image id -> source


def _ranking(results: Results, terms: list[ScoreTerm]) -> pd.DataFrame:
    return integrated_scores(metric_table(results.eval, results.bench, terms), terms)


def summary_metrics(scores: pd.DataFrame, results: Results) -> dict:
    """metrics/summary.json: the ranking, the best run overall and per scenario, per-model means."""
    best = scores.iloc[0]
    per_scenario = {}
    for scenario, group in scores.groupby("scenario", sort=False):
        top = group.iloc[0]
        per_scenario[scenario] = {
            "model": top["model"],
            "score": float(top["score"]),
            "balanced_macro_f1": results.eval[(top["model"], scenario)]["balanced"]["macro_f1"],
        }
    by_model = scores.groupby("model")["score"].mean().sort_values(ascending=False)
    return {
        "best": {
            "model": best["model"],
            "scenario": best["scenario"],
            "score": float(best["score"]),
        },
        "best_per_scenario": per_scenario,
        "model_mean_score": {m: float(v) for m, v in by_model.items()},
        "ranking": [
            {"model": r.model, "scenario": r.scenario, "score": float(r.score)}
            for r in scores.itertuples()
        ],
    }


def build_report(
    results: Results, terms: list[ScoreTerm], reference: str, where: ReportInputs, notes: str
) -> dict:
    """Write reports/report.md, reports/report.html and figures; return the summary metrics.

    ``reference`` is the scenario whose per-model figures (bias map, robustness, calibration,
    Grad-CAM) the report shows; tables cover every scenario.
    """
    if reference not in results.scenarios:
        raise ValueError(f"report.scenario {reference!r} is not among {results.scenarios}")
    out, plots = Path(where.out_dir), Path(where.plots_dir)
    figures = out / "figures"
    scores = _ranking(results, terms)
    d = doc.Document(out)

    d.heading("Avatar type recognition: integrated report", 1)
    d.text(
        f"{len(results.models)} models x {len(results.scenarios)} imbalance scenarios "
        f"({', '.join(results.scenarios)}); per-model figures are for the **{reference}** "
        "scenario. Every number below is read from the metrics this pipeline run wrote."
    )

    d.heading("Data")
    data = results.data
    d.text(
        f"{data['sources']} sources; {data['duplicates_removed']} exact or near duplicates "
        f"removed, {data['rejected']} files rejected. Shortcut audit (balanced accuracy of a "
        f"classifier on file metadata alone; chance {data['shortcut_audit']['chance']:.3f}): "
        f"{data['shortcut_audit']['before']:.3f} before normalisation, "
        f"{data['shortcut_audit']['after']:.3f} after."
    )
    d.table(doc.class_counts(results))
    d.table(pd.DataFrame([{"OOD set": k, "images": v} for k, v in data["ood_counts"].items()]))
    d.figure(plots / "aggregate/figures/source_counts.png", "Images per source")
    d.table(
        pd.DataFrame(
            [
                {
                    "scenario": s,
                    **{f"train {c}": n for c, n in sp["train"].items()},
                    "val": sum(sp["val"].values()),
                    "test": sum(sp["test"].values()),
                    "balanced test": sum(sp["balanced_test"].values()),
                }
                for s, sp in results.splits.items()
            ]
        )
    )

    d.heading("Results per scenario")
    for scenario in results.scenarios:
        d.heading(scenario, 3)
        d.table(doc.run_table(results, scenario))

    d.heading("Accuracy per source", 3)
    d.text(
        f"Balanced test, {reference} scenario. The in-domain test and the balanced test are "
        "carved from whole groups of images (a person, a video, a package's photo set), so their "
        "source mix differs, and so does their difficulty."
    )
    d.table(doc.source_accuracy(where.predictions, where.sources))

    d.heading("Imbalance effect")
    d.figure(
        report_plots.plot_imbalance_effect(
            doc.imbalance_points(results), figures / "imbalance.png"
        ),
        "Balanced-test macro-F1 and real-photo recall against the share of drawings in training",
    )
    d.heading("Prior shift", 3)
    d.text(
        "Balanced test resampled to other class priors, without correction, with the known "
        "priors, and with priors estimated by EM (Saerens et al. 2002)."
    )
    d.table(doc.prior_shift_table(results, reference))

    d.heading("Out-of-domain behaviour and bias")
    d.figure(
        report_plots.plot_bias_map(doc.bias_shares(results, reference), figures / "bias_map.png"),
        "OOD bias map: largest predicted-class share per model and OOD set",
    )
    d.table(doc.ood_table(results, reference))

    d.heading("Robustness")
    curves = {m: results.eval[(m, reference)]["robustness"] for m in results.models}
    d.figure(
        report_plots.plot_robustness(curves, figures / "robustness.png"),
        "Accuracy under corruptions of graded severity (balanced test)",
    )

    d.heading("Calibration")
    calibration = pd.DataFrame(
        [
            {
                "model": m,
                **{
                    k: results.eval[(m, reference)]["calibration"][k]
                    for k in (
                        "ece",
                        "ece_10",
                        "mce",
                        "nll",
                        "brier",
                        "temperature",
                        "ece_after_ts",
                        "nll_after_ts",
                    )
                },
            }
            for m in results.models
        ]
    )
    d.figure(
        report_plots.plot_calibration(calibration, figures / "calibration.png"),
        "ECE before and after temperature scaling (fitted on validation)",
    )
    d.table(calibration)

    d.heading("Per-model evaluation panels")
    for m in results.models:
        d.figure(plots / "eval" / m / reference / "evaluation.png", f"{m} on {reference}")

    d.heading("Attention (Grad-CAM)")
    d.figure(plots / "explain/wall.png", "Grad-CAM wall: models x example images per class")
    d.figure(plots / "explain/overlap.png", "Grad-CAM overlap between model pairs per class")
    d.table(doc.overlap_table(results.explain))
    d.figure(plots / "explain/mistakes.png", "Most confident mistakes")

    d.heading("Ensembles")
    d.table(doc.ensemble_table(results))
    d.figure(plots / "ensemble" / reference / "ensembles.png", f"Ensembles on {reference}")

    d.heading("Benchmark")
    d.table(bench_table(results.bench), floatfmt=".3f")
    d.figure(
        plot_speed_vs_complexity(results.bench, figures / "speed.png"),
        "CPU latency (batch 1) against complexity",
    )
    d.text("The study's own figures (seeds, block 21), as reported there:")
    d.table(doc.study_bench_table(), floatfmt=".4f")

    d.heading("Integrated ranking")
    d.text(doc.formula(terms))
    d.table(doc.terms_table(terms))
    d.figure(
        report_plots.plot_ranking(scores, figures / "ranking.png"), "Integrated score, top runs"
    )
    shown = scores[["model", "scenario", "score", *(t.name for t in terms)]]
    d.table(shown)

    d.heading("What this data can and cannot show")
    d.text(notes)

    md = d.markdown()
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.md").write_text(md, encoding="utf-8")
    html = doc.to_html(md, out, "Avatar type recognition report")
    (out / "report.html").write_text(html, encoding="utf-8")
    return summary_metrics(scores, results)
