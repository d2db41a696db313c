"""The report's sections as data: one table (or note) per section, from the collected results;
``document`` renders them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from avatar_type.bench.study import STUDY_BENCHMARK
from avatar_type.labels import CLASSES
from avatar_type.report.collect import Results
from avatar_type.report.score import ScoreTerm, formula_text

# the study's own Grad-CAM overlap (seeds, block 20: ResNet18 few-shot vs ConvNeXt-Tiny)
STUDY_OVERLAP = {"drawing": (0.813, 0.815), "generated": (0.435, 0.657), "real": (0.589, 0.770)}


def run_table(results: Results, scenario: str) -> pd.DataFrame:
    """Headline metrics of every model on one scenario."""
    rows = []
    for m in results.models:
        e = results.eval[(m, scenario)]
        rows.append(
            {
                "model": m,
                "test macro-F1": e["test"]["macro_f1"],
                "balanced macro-F1": e["balanced"]["macro_f1"],
                "balanced acc": e["balanced"]["accuracy"],
                "robust acc": e["robustness"]["mean_accuracy"],
                "ECE": e["calibration"]["ece"],
                "ECE after TS": e["calibration"]["ece_after_ts"],
                "Unbias": e.get("ood", {}).get("unbias"),
                "silhouette": e["embedding"]["silhouette"],
            }
        )
    return pd.DataFrame(rows)


def interval(report: dict, metric: str) -> tuple[float, float]:
    """The 95% bootstrap interval of ``metric`` in a classification report (NaN when absent)."""
    lo, hi = (report.get("ci95") or {}).get(metric, (np.nan, np.nan))
    return float(lo), float(hi)


def unseen_gap(results: Results, scenario: str) -> pd.DataFrame:
    """Per model on ``scenario``: in-source (balanced test) and unseen-source macro-F1 with
    intervals, the gap, unseen_val macro-F1 (what choices see) and unseen per-class recall."""
    rows = []
    for m in results.models:
        e = results.eval[(m, scenario)]
        if "unseen" not in e:
            continue
        unseen, bal = e["unseen"], e["balanced"]
        lo, hi = interval(bal, "macro_f1")
        ulo, uhi = interval(unseen, "macro_f1")
        rows.append(
            {
                "model": m,
                "in_source": bal["macro_f1"],
                "in_source_lo": lo,
                "in_source_hi": hi,
                "unseen": unseen["macro_f1"],
                "unseen_lo": ulo,
                "unseen_hi": uhi,
                "gap": bal["macro_f1"] - unseen["macro_f1"],
                "unseen_val": e.get("unseen_val", {}).get("macro_f1", np.nan),
                **{f"recall {c}": unseen["per_class"][c]["recall"] for c in CLASSES},
                "unseen ECE": unseen["calibration"]["ece"],
            }
        )
    return pd.DataFrame(rows)


def seed_spread(results: Results) -> pd.DataFrame:
    """Per model and scenario: mean, standard deviation and range over training seeds of the
    unseen-source (where held out) and balanced-test macro-F1."""
    rows = []
    for m in results.models:
        for s in results.scenarios:
            row = {"model": m, "scenario": s}
            for key in ("unseen", "balanced"):
                values = [
                    results.eval_by_seed[(m, s, k)][key]["macro_f1"]
                    for k in results.seeds
                    if key in results.eval_by_seed[(m, s, k)]
                ]
                if values:
                    row.update(
                        {
                            f"{key} mean": float(np.mean(values)),
                            f"{key} sd": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
                            f"{key} min": min(values),
                            f"{key} max": max(values),
                        }
                    )
            rows.append(row)
    return pd.DataFrame(rows)


def unseen_source_accuracy(results: Results, model: str, scenario: str) -> pd.DataFrame:
    """Accuracy of one run on each held-out source of unseen_test."""
    per_source = results.eval[(model, scenario)]["unseen"]["per_source"]
    return pd.DataFrame(
        [
            {"source": name, "images": e["n"], "accuracy": e["accuracy"]}
            for name, e in per_source.items()
        ]
    ).sort_values("accuracy", ignore_index=True)


def imbalance_points(results: Results) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "model": m,
                "scenario": s,
                "drawing_share": results.drawing_share(m, s),
                "macro_f1": results.eval[(m, s)]["balanced"]["macro_f1"],
                "recall_real": results.eval[(m, s)]["balanced"]["per_class"]["real"]["recall"],
            }
            for m in results.models
            for s in results.scenarios
        ]
    )


def bias_shares(results: Results, scenario: str) -> pd.DataFrame:
    rows = []
    for m in results.models:
        for name, entry in results.eval[(m, scenario)]["ood"]["sets"].items():
            rows.append({"model": m, "ood_set": name, **entry["shares"]})
    return pd.DataFrame(rows)


def prior_shift_table(results: Results, scenario: str) -> pd.DataFrame:
    rows = []
    for m in results.models:
        for priors, e in results.eval[(m, scenario)]["prior_shift"].items():
            rows.append(
                {
                    "model": m,
                    "test priors": priors,
                    "n": e["n"],
                    "macro-F1": e["macro_f1"],
                    "known priors": e["macro_f1_known_priors"],
                    "EM priors": e["macro_f1_em_priors"],
                }
            )
    return pd.DataFrame(rows)


def ood_table(results: Results, scenario: str) -> pd.DataFrame:
    rows = []
    for m in results.models:
        sets = results.eval[(m, scenario)]["ood"]["sets"]
        rows.append(
            {
                "model": m,
                "Unbias": results.eval[(m, scenario)]["ood"]["unbias"],
                "mean confidence": np.mean([s["mean_confidence"] for s in sets.values()]),
                "AUROC max-softmax": np.mean([s["auroc_max_softmax"] for s in sets.values()]),
                "AUROC energy": np.mean([s["auroc_energy"] for s in sets.values()]),
            }
        )
    return pd.DataFrame(rows)


def ensemble_table(results: Results) -> pd.DataFrame:
    rows = []
    for s, e in results.ensembles.items():
        row = {
            "scenario": s,
            "best single": e["best_single"]["by_balanced_test"],
            "its macro-F1": e["best_single"]["balanced_macro_f1"],
        }
        for name in ("soft_vote", "weighted_vote", "best_subset"):
            row[name] = e["ensembles"][name]["balanced_test"]["macro_f1"]
            row[f"gain {name}"] = e["gain_balanced_macro_f1"][name]
        row["subset"] = ", ".join(e["ensembles"]["best_subset"]["members"])
        row["correctness r"] = e["diversity"]["mean_correctness_correlation"]
        rows.append(row)
    return pd.DataFrame(rows)


def overlap_table(explain: dict) -> pd.DataFrame:
    rows = []
    for name, entry in explain["overlap"].items():
        study = STUDY_OVERLAP.get(name, (np.nan, np.nan))
        rows.append(
            {
                "class": name,
                "mean IoU (all pairs)": entry["mean_iou"],
                "mean Pearson r": entry["mean_pearson"],
                "study IoU": study[0],
                "study r": study[1],
            }
        )
    return pd.DataFrame(rows)


def source_accuracy(tables: dict[str, pd.DataFrame], sources: pd.Series) -> pd.DataFrame:
    """Accuracy of every model per source of the balanced test (``sources``: id -> source).

    The test sets are carved from whole groups of images, so their source mix differs; this
    shows which sources make a set hard.
    """
    columns = {}
    for model, table in tables.items():
        chosen = table[table["set"] == "balanced_test"]
        correct = (chosen["predicted"] == chosen["label"]).groupby(
            [chosen["label"], chosen["id"].map(sources)]
        )
        columns["n"] = correct.size()
        columns[model] = correct.mean()
    frame = pd.DataFrame(columns).rename_axis(["class", "source"]).reset_index()
    return frame.sort_values(["class", "n"], ascending=[True, False], ignore_index=True)


def terms_table(terms: list[ScoreTerm]) -> pd.DataFrame:
    total = sum(t.weight for t in terms)
    return pd.DataFrame(
        [
            {
                "metric": t.name,
                "direction": t.direction,
                "weight": t.weight,
                "share": t.weight / total,
            }
            for t in terms
        ]
    )


def formula(terms: list[ScoreTerm]) -> str:
    return (
        "For each metric, over all evaluated runs, `norm_up(x) = (x - min) / (max - min)` where "
        "higher is better and `norm_down(x) = (max - x) / (max - min)` where lower is better "
        "(a metric on which every run ties counts 1). The score is their weighted mean:\n\n"
        f"`{formula_text(terms)}`"
    )


def study_bench_table() -> pd.DataFrame:
    return pd.DataFrame(STUDY_BENCHMARK)


def class_counts(results: Results) -> pd.DataFrame:
    counts = results.data["counts"]
    return pd.DataFrame([{"class": c, "images": counts.get(c, 0)} for c in CLASSES])


def honest_notes(results: Results) -> str:
    """What this run's data supports, computed from the metrics it wrote: test-set sizes and the
    resolution they give, sources per class and the largest source's share, OOD set sizes."""
    any_run = results.eval[(results.models[0], results.scenarios[0])]
    n_balanced = any_run["balanced"]["n"]
    # 95% half-width of a binomial proportion near 0.9: the resolution of an accuracy
    half_width = 1.96 * np.sqrt(0.9 * 0.1 / n_balanced)
    counts = results.data["counts"]
    per_source = results.data.get("source_counts") or {}
    notes = [
        f"- **Test-set sizes.** The shared balanced test holds {n_balanced} images "
        f"({n_balanced // len(CLASSES)} per class): an accuracy near 0.9 is known to about "
        f"+/-{half_width:.3f} (95%). The tables give bootstrap intervals; runs marked tied "
        "with the best cannot be told apart on this data."
    ]
    if "unseen" in any_run:
        n_unseen = any_run["unseen"]["n"]
        per_class = {c: any_run["unseen"]["per_class"][c]["support"] for c in CLASSES}
        notes.append(
            f"- **Held-out sources.** unseen_test holds {n_unseen} images "
            f"({', '.join(f'{c} {n}' for c, n in per_class.items())}) from a few whole sources "
            "per class: it measures transfer to those sources, not to every source there is."
        )
    for c in CLASSES:
        sources = per_source.get(c) or {}
        if sources:
            top, n = max(sources.items(), key=lambda kv: kv[1])
            notes.append(
                f"- **{c}**: {counts.get(c, 0)} images from {len(sources)} sources; the largest, "
                f"`{top}`, gives {n / max(sum(sources.values()), 1):.0%} of them."
            )
    ood = results.data.get("ood_counts") or {}
    if ood:
        notes.append(
            f"- **OOD sets** hold {min(ood.values())} to {max(ood.values())} images each: per-set "
            "Unbias and AUROC move a lot with a handful of images."
        )
    else:
        notes.append("- **No OOD set** in this data: OOD bias and detection are not measured.")
    smallest_train = min(sum(results.splits[s]["train"].values()) for s in results.scenarios)
    notes.append(
        "- **Imbalance scenarios subsample.** Every scenario trains on a subset sized by its "
        f"scarcest class (smallest: {smallest_train} images), so the imbalance effect mixes "
        "class ratio with training-set size."
    )
    devices = sorted({t.get("device", "?") for t in results.train.values()})
    sizes = sorted({b["img_size"] for b in results.bench.values()})
    notes.append(
        f"- **Models and machine.** Trained on {', '.join(devices)} at {sizes[0]}-{sizes[-1]} px. "
        "Temperature scaling fitted on small validation sets can make calibration worse on "
        "test; the report shows it when it does."
    )
    return "\n".join(notes) + "\n"
