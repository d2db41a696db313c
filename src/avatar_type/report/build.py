"""Assemble the integrated report: figures, tables, ranking, Markdown, HTML and summary metrics."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from avatar_type.bench.plots import bench_table, plot_speed_vs_complexity
from avatar_type.errors import ParamsError
from avatar_type.report import document as doc
from avatar_type.report import sections
from avatar_type.report.collect import Results
from avatar_type.report.score import ScoreTerm, applicable_terms, integrated_scores, metric_table
from avatar_type.report.ties import ties_with_best
from avatar_type.runs import run_id
from avatar_type.viz import report_plots


@dataclass(frozen=True)
class ReportInputs:
    """Where the stage figures are, and the per-image predictions of the reference scenario."""

    plots_dir: Path  # plots/ (eval, ensemble, explain, aggregate figures)
    out_dir: Path  # reports/
    tables: dict[tuple[str, str], pd.DataFrame]  # (model, scenario) -> evaluate's probabilities
    sources: pd.Series  # image id -> source
    seed: int  # of the paired bootstrap

    def predictions(self, scenario: str) -> dict[str, pd.DataFrame]:
        """model -> probability table of one scenario."""
        return {m: t for (m, s), t in self.tables.items() if s == scenario}


def _ranking(results: Results, terms: list[ScoreTerm]) -> pd.DataFrame:
    table = metric_table(results.eval, results.bench, terms, results.seeds[0])
    return integrated_scores(table, terms)


def comparison_set(results: Results) -> str:
    """The test set runs are compared on: held-out sources where the split has them."""
    return "unseen_test" if all("unseen" in e for e in results.eval.values()) else "balanced_test"


def with_ties(scores: pd.DataFrame, results: Results, where: ReportInputs) -> pd.DataFrame:
    """The ranking plus each run's macro-F1 on the comparison set, its 95% interval, and
    whether a paired bootstrap ties it with the best run."""
    set_name = comparison_set(results)
    key = "unseen" if set_name == "unseen_test" else "balanced"
    model, scenario, _ = best_run(scores, results)
    ties = ties_with_best(where.tables, (model, scenario), set_name, where.seed)
    out = scores.merge(ties, on=["model", "scenario"], how="left")
    report = [results.eval[(m, s)][key] for m, s in zip(out["model"], out["scenario"], strict=True)]
    out[f"{key} macro-F1"] = [r["macro_f1"] for r in report]
    out["95% CI"] = [
        "[{:.3f}, {:.3f}]".format(*r["ci95"]["macro_f1"]) if "ci95" in r else "" for r in report
    ]
    out["tied with best"] = out["tied"].map({True: "yes", False: ""})
    return out


def best_run(scores: pd.DataFrame, results: Results) -> tuple[str, str, str]:
    """(model, scenario, rule): the model with the best mean unseen_val macro-F1 over its runs
    (every scenario and seed of ``scores``), then its run with the best unseen_val macro-F1
    (held-out sources measure what users ask: images from elsewhere); ties go to the better
    integrated score. The best integrated score where the split holds no source out."""
    runs = list(zip(scores["model"], scores["scenario"], strict=True))  # best score first
    chosen = [r for r in runs if "unseen_val" in results.eval[r]]
    if not chosen:
        return (*runs[0], "integrated score")
    val = {r: results.eval[r]["unseen_val"]["macro_f1"] for r in chosen}
    every = results.eval_by_seed or {(*r, results.seeds[0]): results.eval[r] for r in chosen}
    per_model = defaultdict(list)
    for (m, s, _), e in every.items():
        if (m, s) in val:
            per_model[m].append(e["unseen_val"]["macro_f1"])
    # one run's figure on ~100 held-out images moves by several points between scenarios and
    # seeds: the maximum over single runs picks the luckiest, the mean per model does not
    model = max(dict.fromkeys(m for m, _ in chosen), key=lambda m: np.mean(per_model[m]))
    scenario = max((r for r in chosen if r[0] == model), key=val.__getitem__)[1]
    return model, scenario, "mean unseen_val macro-F1 of the model, then its best run"


def summary_metrics(scores: pd.DataFrame, results: Results) -> dict:
    """metrics/summary.json: the best run (by unseen-source validation where there is one), the
    ranking, the best run per scenario, per-model means."""
    model, scenario, rule = best_run(scores, results)
    best = scores[(scores["model"] == model) & (scores["scenario"] == scenario)].iloc[0]
    tied = scores.get("tied", pd.Series(False, index=scores.index))
    per_scenario = {}
    for name, group in scores.groupby("scenario", sort=False):
        top = group.iloc[0]
        per_scenario[name] = {
            "model": top["model"],
            "score": float(top["score"]),
            "balanced_macro_f1": results.eval[(top["model"], name)]["balanced"]["macro_f1"],
        }
    by_model = scores.groupby("model")["score"].mean().sort_values(ascending=False)
    return {
        "best": {
            "model": best["model"],
            "scenario": best["scenario"],
            "seed": results.seeds[0],
            "chosen_by": rule,
            "score": float(best["score"]),
            **(
                {"unseen_macro_f1": results.eval[(model, scenario)]["unseen"]["macro_f1"]}
                if "unseen" in results.eval[(model, scenario)]
                else {}
            ),
        },
        "best_per_scenario": per_scenario,
        "model_mean_score": {m: float(v) for m, v in by_model.items()},
        "ranking": [
            {"model": m, "scenario": s, "score": float(v), "tied_with_best": bool(t)}
            for m, s, v, t in zip(
                scores["model"], scores["scenario"], scores["score"], tied, strict=True
            )
        ],
    }


def _unseen_section(
    d: doc.Document, results: Results, scores: pd.DataFrame, reference: str, figures: Path
) -> None:
    """The report's opening: how far in-source numbers overstate performance on sources no
    model trained on, and which run the held-out validation sources choose."""
    gap = sections.unseen_gap(results, reference)
    if gap.empty:
        return
    model, scenario, rule = best_run(scores, results)
    d.heading("Generalisation to unseen sources")
    d.text(
        "Whole sources are held out of training (`split.unseen` in params.yaml): `unseen_val` "
        "only for choices (the best model below, the ensemble subset, temperature scaling), "
        "`unseen_test` never for any choice. In-source numbers come from test images of the "
        "training sources. Intervals are 95% bootstrap intervals over test images. "
        f"Best run by {rule}: **{model} on {scenario}**, unseen-source macro-F1 "
        f"{results.eval[(model, scenario)]['unseen']['macro_f1']:.3f}."
    )
    d.figure(
        report_plots.plot_unseen_gap(gap, figures / "unseen_gap.png"),
        f"In-source vs unseen-source macro-F1 per model ({reference} scenario)",
    )
    shown = gap.drop(columns=["in_source_lo", "in_source_hi", "unseen_lo", "unseen_hi"])
    d.table(shown)
    d.text("Unseen-source (unseen_test) macro-F1 of every run:")
    d.table(
        pd.DataFrame(
            [
                {
                    "model": m,
                    **{
                        s: results.eval[(m, s)].get("unseen", {}).get("macro_f1")
                        for s in results.scenarios
                    },
                }
                for m in results.models
            ]
        )
    )
    d.text(f"Accuracy of {model} on {scenario} per held-out source (unseen_test):")
    d.table(sections.unseen_source_accuracy(results, model, scenario))


def headline_metrics(scores: pd.DataFrame, results: Results) -> dict:
    """metrics/headline.json: the few numbers a pull request compares (``dvc metrics diff
    --targets metrics/headline.json``), per run and per scenario; the detailed files stay."""

    def pick(report: dict) -> dict:
        lo, hi = sections.interval(report, "macro_f1")  # NaN where absent: written as null
        return {"macro_f1": report["macro_f1"], "lo": lo, "hi": hi}

    runs = {}
    for (m, s), e in results.eval.items():
        runs[f"{m}/{s}"] = {
            **({"unseen": pick(e["unseen"])} if "unseen" in e else {}),
            "balanced": pick(e["balanced"]),
            "ece": e["calibration"]["ece"],
            "robust_acc": e.get("robustness", {}).get("mean_accuracy"),
            "latency_ms": results.bench[m]["cpu"]["latency_ms"],
        }
    model, scenario, rule = best_run(scores, results)
    per_scenario = {}
    for s in results.scenarios:
        group = scores[scores["scenario"] == s]
        m, _, _ = best_run(group, results)
        per_scenario[s] = m
    return {
        "best": {"run": f"{model}/{scenario}", "seed": results.seeds[0], "chosen_by": rule},
        "best_per_scenario": per_scenario,
        "runs": runs,
    }


def build_report(
    results: Results, terms: list[ScoreTerm], reference: str, where: ReportInputs, notes: str
) -> tuple[dict, dict]:
    """Write reports/report.md, reports/report.html and figures; return the summary and the
    headline metrics.

    ``reference`` is the scenario whose per-model figures (bias map, robustness, calibration,
    Grad-CAM) the report shows; tables cover every scenario.
    """
    if reference not in results.scenarios:
        raise ParamsError(f"report.scenario {reference!r} is not among {results.scenarios}")
    out, plots = Path(where.out_dir), Path(where.plots_dir)
    figures = out / "figures"
    terms, dropped = applicable_terms(results.eval, terms)
    scores = with_ties(_ranking(results, terms), results, where)
    d = doc.Document(out)

    d.heading("Avatar type recognition: integrated report", 1)
    d.text(
        f"{len(results.models)} models x {len(results.scenarios)} imbalance scenarios "
        f"({', '.join(results.scenarios)}); per-model figures are for the **{reference}** "
        "scenario. Every number below is read from the metrics this pipeline run wrote."
    )
    missing = results.data.get("missing_sources") or {}
    if missing:
        d.text(
            f"**{len(missing)} optional sources could not be had on this machine and are not in "
            "this run:** "
            + "; ".join(f"`{name}` ({reason.splitlines()[0]})" for name, reason in missing.items())
        )
    _unseen_section(d, results, scores, reference, figures)
    if len(results.seeds) > 1:
        d.heading("Spread over training seeds")
        d.text(
            f"Every run trained with seeds {', '.join(map(str, results.seeds))} on the same "
            "data and splits; the tables elsewhere show the first seed. Mean, standard deviation "
            "and range over seeds:"
        )
        d.table(sections.seed_spread(results))

    d.heading("Data")
    data = results.data
    d.text(
        f"{data['sources']} sources; {data['duplicates_removed']} exact or near duplicates "
        f"removed, {data['rejected']} files rejected. Shortcut audit (balanced accuracy of a "
        f"classifier on file metadata alone; chance {data['shortcut_audit']['chance']:.3f}): "
        f"{data['shortcut_audit']['before']:.3f} before normalisation, "
        f"{data['shortcut_audit']['after']:.3f} after."
    )
    d.table(sections.class_counts(results))
    if data["ood_counts"]:
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
        d.table(sections.run_table(results, scenario))

    d.heading("Accuracy per source", 3)
    d.text(
        f"Balanced test, {reference} scenario. The in-domain test and the balanced test are "
        "carved from whole groups of images (a person, a video, a package's photo set), so their "
        "source mix differs, and so does their difficulty."
    )
    d.table(sections.source_accuracy(where.predictions(reference), where.sources))

    d.heading("Imbalance effect")
    d.figure(
        report_plots.plot_imbalance_effect(
            sections.imbalance_points(results), figures / "imbalance.png"
        ),
        "Balanced-test macro-F1 and real-photo recall against the share of drawings in training",
    )
    d.heading("Prior shift", 3)
    d.text(
        "Balanced test resampled to other class priors, without correction, with the known "
        "priors, and with priors estimated by EM (Saerens et al. 2002)."
    )
    d.table(sections.prior_shift_table(results, reference))

    d.heading("Out-of-domain behaviour and bias")
    if all("ood" in results.eval[(m, reference)] for m in results.models):
        d.figure(
            report_plots.plot_bias_map(
                sections.bias_shares(results, reference), figures / "bias_map.png"
            ),
            "OOD bias map: largest predicted-class share per model and OOD set",
        )
        d.table(sections.ood_table(results, reference))
    else:
        d.text("This data has no out-of-domain set (no source labelled `ood:<set>`).")

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
        run = run_id(m, reference, results.seeds[0])
        d.figure(plots / "eval" / run / "evaluation.png", f"{m} on {reference}")

    d.heading("Attention (Grad-CAM)")
    d.figure(plots / "explain/wall.png", "Grad-CAM wall: models x example images per class")
    d.figure(plots / "explain/overlap.png", "Grad-CAM overlap between model pairs per class")
    d.table(sections.overlap_table(results.explain))
    d.figure(plots / "explain/mistakes.png", "Most confident mistakes")

    d.heading("Ensembles")
    d.table(sections.ensemble_table(results))
    d.figure(plots / "ensemble" / reference / "ensembles.png", f"Ensembles on {reference}")

    d.heading("Benchmark")
    d.table(bench_table(results.bench), floatfmt=".3f")
    d.figure(
        plot_speed_vs_complexity(results.bench, figures / "speed.png"),
        "CPU latency (batch 1) against complexity",
    )
    d.text("The study's own figures (seeds, block 21), as reported there:")
    d.table(sections.study_bench_table(), floatfmt=".4f")

    d.heading("Integrated ranking")
    d.text(sections.formula(terms))
    if dropped:
        d.text(
            "Left out of the score because no run reports them on this data: "
            + ", ".join(f"`{t.name}`" for t in dropped)
        )
    d.table(sections.terms_table(terms))
    d.figure(
        report_plots.plot_ranking(scores, figures / "ranking.png"), "Integrated score, top runs"
    )
    key = "unseen" if comparison_set(results) == "unseen_test" else "balanced"
    d.text(
        f"`tied with best`: a paired bootstrap over the {comparison_set(results)} images puts 0 "
        "inside the 95% interval of the run's macro-F1 difference to the best run (chosen as "
        "above): the data cannot tell these runs apart."
    )
    shown = scores[
        [
            "model",
            "scenario",
            "score",
            f"{key} macro-F1",
            "95% CI",
            "tied with best",
            *(t.name for t in terms),
        ]
    ]
    d.table(shown)

    d.heading("What this data can and cannot show")
    d.text(notes)

    md = d.markdown()
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.md").write_text(md, encoding="utf-8")
    html = doc.to_html(md, out, "Avatar type recognition report")
    (out / "report.html").write_text(html, encoding="utf-8")
    return summary_metrics(scores, results), headline_metrics(scores, results)
