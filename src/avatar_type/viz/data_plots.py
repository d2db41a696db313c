"""Figures of the data: images per source and class, a contact sheet per class, and the content
shortcut audit."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from PIL import Image

from avatar_type.labels import CLASSES
from avatar_type.viz.figures import save_figure


def source_counts(index: pd.DataFrame) -> pd.DataFrame:
    """Rows (source, label, count), sorted by label then count."""
    counts = index.groupby(["source", "label"]).size().rename("count").reset_index()
    order = {c: i for i, c in enumerate(CLASSES)}
    counts["_o"] = [order.get(label, len(order)) for label in counts["label"]]
    return counts.sort_values(["_o", "count"], ascending=[True, False]).drop(columns="_o")


def plot_source_counts(counts: pd.DataFrame, path: Path) -> None:
    """Horizontal bars, one per source, coloured by label."""
    labels = list(dict.fromkeys(counts["label"]))
    colours = dict(zip(labels, plt.cm.tab10(np.arange(len(labels)) % 10), strict=True))
    fig, ax = plt.subplots(figsize=(8, 0.28 * len(counts) + 1.2))
    ax.barh(counts["source"], counts["count"], color=[colours[x] for x in counts["label"]])
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("images kept (log scale)")
    ax.legend(
        handles=[plt.Rectangle((0, 0), 1, 1, color=colours[x]) for x in labels],
        labels=labels,
        loc="lower right",
        fontsize=8,
    )
    ax.set_title("Images per source after validation and deduplication")
    save_figure(fig, path, dpi=110)


def contact_sheet(
    paths: list[Path], path: Path, title: str, cols: int = 10, thumb: int = 72
) -> None:
    """A grid of thumbnails of ``paths`` saved as one PNG."""
    rows = max(1, -(-len(paths) // cols))
    sheet = Image.new("RGB", (cols * thumb, rows * thumb), "white")
    for k, image_path in enumerate(paths):
        with Image.open(image_path) as im:
            sheet.paste(
                im.convert("RGB").resize((thumb, thumb)), ((k % cols) * thumb, (k // cols) * thumb)
            )
    fig, ax = plt.subplots(figsize=(cols * thumb / 80, rows * thumb / 80 + 0.5))
    ax.imshow(sheet)
    ax.set_axis_off()
    ax.set_title(title)
    save_figure(fig, path)


def contact_sheets(
    index: pd.DataFrame, images_dir: Path, out_dir: Path, per_class: int, seed: int
) -> list[Path]:
    """One contact sheet per label (classes and OOD sets), a seeded sample spread over sources."""
    written = []
    for label, rows in index.groupby("label"):
        sample = rows.sample(n=min(per_class, len(rows)), random_state=seed).sort_values("source")
        name = str(label).replace(":", "_")
        target = Path(out_dir) / f"contact_{name}.png"
        contact_sheet(
            [Path(images_dir) / f"{i}.jpg" for i in sample["id"]],
            target,
            f"{label}: {len(sample)} of {len(rows)} images",
        )
        written.append(target)
    return written


def plot_content_audit(result: dict, path: Path) -> None:
    """Balanced accuracy of the class from each image statistic alone and from all of them, on
    the stored images and, where audited, after one augmentation pass; the chance line."""
    rows = {
        **result["per_statistic"],
        "all pixel statistics": result["without_native_resolution"],
        "all": result["all"],
    }
    augmented = result.get("augmented")
    # augmentation cannot change the native resolution: no augmented bar where it is included
    after = (
        {**augmented["per_statistic"], "all pixel statistics": augmented["all"]}
        if augmented
        else {}
    )
    y, height = np.arange(len(rows)), 0.4 if after else 0.8
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(rows) + 1.8))
    offset = height / 2 if after else 0.0
    ax.barh(y - offset, list(rows.values()), height, label="stored images")
    if after:
        values = [after.get(name, np.nan) for name in rows]
        ax.barh(y + offset, values, height, label="after one augmentation pass")
    ax.axvline(result["chance"], color="black", linestyle="--", linewidth=1, label="chance")
    ax.set_yticks(y, [name.replace("_", " ") for name in rows])
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("balanced accuracy of a random forest (cross-validated)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3, fontsize=8, frameon=False)
    ax.set_title("Content shortcuts: the class predicted from trivial image statistics")
    save_figure(fig, path, dpi=110)
