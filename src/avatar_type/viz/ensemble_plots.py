"""Figures of one scenario's ensembles: macro-F1 of every model and ensemble, and diversity."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from avatar_type.viz.figures import save_figure


def macro_f1_rows(report: dict, set_name: str = "balanced_test") -> pd.DataFrame:
    """(name, kind, macro_f1) of every single model and ensemble on one set."""
    rows = [
        {"name": m, "kind": "model", "macro_f1": s[set_name]["macro_f1"]}
        for m, s in report["models"].items()
    ] + [
        {"name": e, "kind": "ensemble", "macro_f1": s[set_name]["macro_f1"]}
        for e, s in report["ensembles"].items()
    ]
    return pd.DataFrame(rows)


def plot_ensembles(title: str, report: dict, correlation: pd.DataFrame, path: Path) -> None:
    """Left: balanced-test macro-F1 per model and ensemble; right: correctness correlation."""
    rows = macro_f1_rows(report)
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 0.35 * len(rows) + 3))
    colours = np.where(rows["kind"] == "ensemble", "tab:orange", "tab:blue")
    left.barh(rows["name"], rows["macro_f1"], color=colours)
    left.invert_yaxis()
    left.set_xlim(0, 1)
    left.set_xlabel("macro-F1, balanced test")
    for i, v in enumerate(rows["macro_f1"]):
        left.text(v + 0.01, i, f"{v:.3f}", va="center", fontsize=8)
    left.set_title("Single models (blue) and ensembles (orange)")
    image = right.imshow(correlation.to_numpy(), vmin=-1, vmax=1, cmap="coolwarm")
    names = list(correlation.columns)
    right.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
    right.set_yticks(range(len(names)), names, fontsize=8)
    for (i, j), v in np.ndenumerate(correlation.to_numpy()):
        if np.isfinite(v):
            right.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7)
    fig.colorbar(image, ax=right, fraction=0.046)
    right.set_title("Correlation of per-image correctness (diversity)")
    fig.suptitle(title)
    save_figure(fig, path)
