"""Cross-run figures of the report: imbalance effect, bias map, robustness, calibration, ranking."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from avatar_type.evaluate.corruptions import SEVERITIES
from avatar_type.labels import CLASSES
from avatar_type.viz.figures import save_figure


def plot_imbalance_effect(points: pd.DataFrame, path: Path) -> Path:
    """Balanced-test macro-F1 (left) and real-class recall (right) against the drawing share of
    the training data, one line per model.

    ``points``: columns model, drawing_share, macro_f1, recall_real."""
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8))
    for model, group in points.sort_values("drawing_share").groupby("model", sort=False):
        for ax, column in zip(axes, ("macro_f1", "recall_real"), strict=True):
            ax.plot(group["drawing_share"], group[column], marker="o", label=model)
    for ax, label in zip(axes, ("macro-F1", "recall of real photos"), strict=True):
        ax.set_xlabel("share of drawings in training data")
        ax.set_ylabel(f"{label}, balanced test")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("Effect of class imbalance")
    return save_figure(fig, path)


def plot_bias_map(shares: pd.DataFrame, path: Path) -> Path:
    """Models (rows) x OOD sets (columns): colour is the largest predicted-class share, the
    letter says which class. ``shares``: model, ood_set, and one column per class."""
    models = list(dict.fromkeys(shares["model"]))
    sets = list(dict.fromkeys(shares["ood_set"]))
    top = np.zeros((len(models), len(sets)))
    which = np.empty((len(models), len(sets)), dtype=object)
    for row in shares.itertuples(index=False):
        i, j = models.index(row.model), sets.index(row.ood_set)
        values = [getattr(row, c) for c in CLASSES]
        top[i, j], which[i, j] = max(values), CLASSES[int(np.argmax(values))]
    fig, ax = plt.subplots(figsize=(1.3 * len(sets) + 3, 0.5 * len(models) + 1.5))
    image = ax.imshow(top, vmin=1 / len(CLASSES), vmax=1, cmap="Reds")
    for (i, j), v in np.ndenumerate(top):
        colour = "white" if v > 0.75 else "black"
        ax.text(j, i, f"{which[i, j]}\n{v:.2f}", ha="center", va="center", fontsize=7, color=colour)
    ax.set_xticks(range(len(sets)), sets, rotation=30, ha="right")
    ax.set_yticks(range(len(models)), models)
    fig.colorbar(image, ax=ax, label="largest predicted-class share (1 = all one class)")
    ax.set_title("OOD bias map: where out-of-domain images land")
    return save_figure(fig, path)


def plot_robustness(curves: dict[str, dict], path: Path) -> Path:
    """Accuracy per corruption and severity level, one line per model, one panel per corruption.
    ``curves[model]`` is the evaluate stage's ``robustness`` block."""
    fig, axes = plt.subplots(1, len(SEVERITIES), figsize=(4 * len(SEVERITIES), 4), sharey=True)
    for ax, (name, severities) in zip(axes, SEVERITIES.items(), strict=True):
        for model, r in curves.items():
            accuracy = [r["clean_accuracy"]] + [r["accuracy"][f"{name}@{s:g}"] for s in severities]
            ax.plot(["clean", *[f"{s:g}" for s in severities]], accuracy, marker="o", label=model)
        ax.set_title(name)
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("accuracy, balanced test")
    axes[-1].legend(fontsize=7)
    return save_figure(fig, path)


def plot_calibration(table: pd.DataFrame, path: Path) -> Path:
    """ECE before and after temperature scaling per model. ``table``: model, ece, ece_after_ts."""
    fig, ax = plt.subplots(figsize=(9, 0.4 * len(table) + 1.5))
    y = np.arange(len(table))
    ax.barh(y - 0.2, table["ece"], height=0.4, label="before")
    ax.barh(y + 0.2, table["ece_after_ts"], height=0.4, label="after temperature scaling")
    ax.set_yticks(y, table["model"])
    ax.invert_yaxis()
    ax.set_xlabel("ECE (15 bins), in-domain test; lower is better")
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def plot_ranking(scores: pd.DataFrame, path: Path, top: int = 20) -> Path:
    """Integrated score of the best runs, stacked by each metric's weighted contribution."""
    shown = scores.head(top)
    parts = [c for c in shown.columns if c.startswith("weighted:")]
    fig, ax = plt.subplots(figsize=(10, 0.35 * len(shown) + 1.5))
    labels = shown["model"] + " / " + shown["scenario"]
    left = np.zeros(len(shown))
    for column in parts:
        ax.barh(labels, shown[column], left=left, label=column.removeprefix("weighted:"))
        left += shown[column].to_numpy()
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("integrated score (stacked: weighted normalised metrics)")
    ax.legend(fontsize=7, loc="lower right")
    return save_figure(fig, path)


def plot_unseen_gap(gap: pd.DataFrame, path: Path) -> Path:
    """Per model: macro-F1 on the in-source balanced test beside macro-F1 on held-out sources,
    with 95% bootstrap intervals where the metrics have them.

    ``gap``: columns model, in_source, in_source_lo/hi, unseen, unseen_lo/hi (one row per model)."""
    gap = gap.sort_values("unseen")
    y = np.arange(len(gap))
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(gap) + 1.8))
    for offset, column, colour, label in (
        (0.18, "in_source", "tab:grey", "in-source (balanced test)"),
        (-0.18, "unseen", "tab:red", "unseen sources (unseen_test)"),
    ):
        values = gap[column].to_numpy(float)
        lo, hi = gap.get(f"{column}_lo"), gap.get(f"{column}_hi")
        err = None
        if lo is not None and hi is not None and lo.notna().all():
            err = np.vstack([values - lo.to_numpy(float), hi.to_numpy(float) - values])
        ax.barh(y + offset, values, height=0.36, color=colour, label=label, xerr=err, capsize=2)
    ax.set_yticks(y, gap["model"])
    ax.set_xlim(0, 1)
    ax.set_xlabel("macro-F1")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("Generalisation gap: in-source vs unseen-source macro-F1")
    return save_figure(fig, path)
