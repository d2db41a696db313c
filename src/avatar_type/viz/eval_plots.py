"""Figures of one evaluation: the tables DVC renders (``dvc plots show``) and one PNG panel."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from avatar_type.evaluate.calibration import reliability_bins
from avatar_type.evaluate.corruptions import SEVERITIES
from avatar_type.evaluate.predict import PROB_COLUMNS
from avatar_type.labels import CLASS_TO_INDEX, CLASSES, ood_set
from avatar_type.viz.figures import save_figure


def confusion_rows(table: pd.DataFrame, set_name: str) -> pd.DataFrame:
    """(actual, predicted) per image of one set, for DVC's confusion template."""
    chosen = table[table["set"] == set_name]
    return chosen[["label", "predicted"]].rename(columns={"label": "actual"})


def bias_rows(table: pd.DataFrame) -> pd.DataFrame:
    """(ood_set, predicted) per OOD image: rendered as a confusion heatmap, it is the bias map."""
    chosen = table[table["set"] == "ood"]
    return pd.DataFrame(
        {"ood_set": [ood_set(x) for x in chosen["label"]], "predicted": chosen["predicted"]}
    )


def reliability_rows(table: pd.DataFrame, n_bins: int = 15) -> pd.DataFrame:
    """Non-empty confidence bins of the in-domain test set."""
    test = table[table["set"] == "test"]
    bins = reliability_bins(
        test[PROB_COLUMNS].to_numpy(), test["label"].map(CLASS_TO_INDEX).to_numpy(), n_bins
    )
    rows = pd.DataFrame(
        {"confidence": bins["confidence"], "accuracy": bins["accuracy"], "count": bins["count"]}
    )
    return rows[rows["count"] > 0]


def robustness_rows(robustness: dict) -> pd.DataFrame:
    """Accuracy per severity level (0 = clean): one column per corruption and their mean."""
    levels = max(len(s) for s in SEVERITIES.values())
    rows = {"level": list(range(levels + 1))}
    for name, severities in SEVERITIES.items():
        rows[name] = [robustness["clean_accuracy"]] + [
            robustness["accuracy"][f"{name}@{s:g}"] for s in severities
        ]
    table = pd.DataFrame(rows)
    table["mean_accuracy"] = table[list(SEVERITIES)].mean(axis=1)
    return table


def plot_run(
    title: str, metrics: dict, table: pd.DataFrame, tsne: pd.DataFrame, path: Path
) -> None:
    """Six panels: confusion, reliability, robustness, confidence, t-SNE and OOD shares."""
    fig, axes = plt.subplots(2, 3, figsize=(15, 9))
    _confusion(axes[0, 0], np.array(metrics["balanced"]["confusion"]))
    _reliability(axes[0, 1], reliability_rows(table), metrics["calibration"])
    if "robustness" in metrics:
        _robustness(axes[0, 2], robustness_rows(metrics["robustness"]))
    _confidence(axes[1, 0], table)
    _tsne(axes[1, 1], tsne, metrics["embedding"]["silhouette"])
    _ood_shares(axes[1, 2], metrics.get("ood", {}).get("sets", {}))
    fig.suptitle(title)
    save_figure(fig, path)


def _confusion(ax, confusion: np.ndarray) -> None:
    ax.imshow(confusion, cmap="Blues")
    for (i, j), v in np.ndenumerate(confusion):
        colour = "white" if v > confusion.max() / 2 else "black"
        ax.text(j, i, str(v), ha="center", va="center", color=colour)
    ax.set_xticks(range(len(CLASSES)), CLASSES)
    ax.set_yticks(range(len(CLASSES)), CLASSES)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("Confusion, balanced test")


def _reliability(ax, bins: pd.DataFrame, calibration: dict) -> None:
    ax.plot([0, 1], [0, 1], "k--", lw=1)
    ax.bar(bins["confidence"], bins["accuracy"], width=1 / 15, alpha=0.7, edgecolor="k")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.set_title(
        f"Reliability, test: ECE {calibration['ece']:.3f} "
        f"(after T={calibration['temperature']:.2f}: {calibration['ece_after_ts']:.3f})"
    )


def _robustness(ax, rows: pd.DataFrame) -> None:
    for name in SEVERITIES:
        ax.plot(rows["level"], rows[name], marker="o", label=name)
    ax.set_xticks(rows["level"])
    ax.set_xlabel("severity level (0 = clean)")
    ax.set_ylabel("accuracy, balanced test")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    ax.set_title("Robustness to corruptions")


def _confidence(ax, table: pd.DataFrame) -> None:
    bins = np.linspace(1 / len(CLASSES), 1, 21)
    for set_name, label in (("test", "in-domain test"), ("ood", "all OOD sets")):
        conf = table.loc[table["set"] == set_name, PROB_COLUMNS].to_numpy().max(axis=1)
        if len(conf):
            ax.hist(conf, bins=bins, alpha=0.6, density=True, label=f"{label} (n={len(conf)})")
    ax.set_xlabel("max softmax probability")
    ax.set_ylabel("density")
    ax.legend(fontsize=8)
    ax.set_title("Confidence")


def _tsne(ax, tsne: pd.DataFrame, silhouette: float) -> None:
    for name in CLASSES:
        chosen = tsne[tsne["label"] == name]
        ax.scatter(chosen["x"], chosen["y"], s=10, label=name)
    ax.legend(fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"t-SNE of features, balanced test (silhouette {silhouette:.2f})")


def _ood_shares(ax, sets: dict) -> None:
    if not sets:
        ax.set_axis_off()
        return
    names = list(sets)
    bottom = np.zeros(len(names))
    for c in CLASSES:
        share = np.array([sets[n]["shares"][c] for n in names])
        ax.bar(names, share, bottom=bottom, label=c)
        bottom += share
    ax.set_ylabel("share of predictions")
    ax.tick_params(axis="x", rotation=30)
    ax.legend(fontsize=8)
    ax.set_title("Predicted class per OOD set")
