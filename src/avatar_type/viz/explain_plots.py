"""Figures of attention: the Grad-CAM wall, pairwise overlap heatmaps and the mistakes gallery."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from avatar_type.viz.figures import save_figure


def plot_wall(
    images: np.ndarray, captions: list[str], overlays: dict[str, np.ndarray], path: Path
) -> None:
    """Row 0: the images; one row per model with its Grad-CAM overlay for the true class."""
    rows, cols = 1 + len(overlays), len(images)
    fig, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, 1.7 * rows), squeeze=False)
    for j, (image, caption) in enumerate(zip(images, captions, strict=True)):
        axes[0, j].imshow(image)
        axes[0, j].set_title(caption, fontsize=8)
    for i, (model, shown) in enumerate(overlays.items(), start=1):
        for j in range(cols):
            axes[i, j].imshow(shown[j])
        axes[i, 0].set_ylabel(model, fontsize=7, rotation=0, ha="right", va="center")
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("Grad-CAM for the true class: models (rows) x images per class (columns)")
    save_figure(fig, path, dpi=70)


def plot_overlap(overlap: pd.DataFrame, models: list[str], path: Path) -> None:
    """Per class, a models x models heatmap of mean IoU (upper) and Pearson r (lower)."""
    classes = list(dict.fromkeys(overlap["class"]))
    fig, axes = plt.subplots(1, len(classes), figsize=(5 * len(classes), 4.6), squeeze=False)
    position = {m: i for i, m in enumerate(models)}
    for ax, name in zip(axes[0], classes, strict=True):
        grid = np.eye(len(models))
        for row in overlap[overlap["class"] == name].itertuples():
            a, b = sorted((position[row.model_a], position[row.model_b]))
            grid[a, b], grid[b, a] = row.iou, row.pearson
        ax.imshow(grid, vmin=-1, vmax=1, cmap="coolwarm")
        for (i, j), v in np.ndenumerate(grid):
            if i != j:
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7)
        ax.set_xticks(range(len(models)), models, rotation=45, ha="right", fontsize=7)
        ax.set_yticks(range(len(models)), models, fontsize=7)
        ax.set_title(f"{name}: IoU (upper), Pearson r (lower)")
    save_figure(fig, path, dpi=70)


def plot_mistakes(overlays: list[np.ndarray], captions: list[str], path: Path) -> None:
    """The most confident mistakes, each with the Grad-CAM of the class it wrongly chose."""
    cols = min(6, max(1, len(overlays)))
    rows = max(1, -(-len(overlays) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(2.4 * cols, 2.7 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    for ax, shown, caption in zip(axes.ravel(), overlays, captions, strict=False):
        ax.imshow(shown)
        ax.set_title(caption, fontsize=7)
    fig.suptitle("Most confident mistakes on the balanced test (map of the predicted class)")
    save_figure(fig, path, dpi=70)
