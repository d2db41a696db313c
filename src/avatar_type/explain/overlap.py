"""How much two models look at the same pixels: IoU of their top Grad-CAM regions and the
Pearson correlation of the maps (the study's block 20), per class.

Each map is binarised at its own top ``fraction`` of pixels rather than at a fixed value, so
maps of different sharpness or scale are compared by where they point, not by how strongly.
"""

from __future__ import annotations

import itertools

import cv2
import numpy as np

from avatar_type.errors import ParamsError


def resize_map(cam: np.ndarray, size: int) -> np.ndarray:
    """A (H, W) map at (size, size): maps of models with different input sizes line up."""
    return cv2.resize(cam.astype(np.float32), (size, size), interpolation=cv2.INTER_LINEAR)


def top_region(cam: np.ndarray, fraction: float) -> np.ndarray:
    """Boolean mask of the ``fraction`` of pixels with the highest values (ties included)."""
    if not 0 < fraction <= 1:
        raise ParamsError(f"fraction must be in (0, 1], got {fraction}")
    return cam >= np.quantile(cam, 1 - fraction)


def iou(a: np.ndarray, b: np.ndarray, fraction: float) -> float:
    ra, rb = top_region(a, fraction), top_region(b, fraction)
    return float((ra & rb).sum() / (ra | rb).sum())


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Correlation of the maps' pixel values; 0 when either map is constant."""
    x, y = a.ravel() - a.mean(), b.ravel() - b.mean()
    denominator = np.sqrt((x * x).sum() * (y * y).sum())
    return float((x * y).sum() / denominator) if denominator > 0 else 0.0


def pairwise_overlap(
    maps: dict[str, np.ndarray], labels: np.ndarray, classes: list[str], fraction: float
) -> list[dict]:
    """Per class and model pair: mean IoU and Pearson over that class's images.

    ``maps[model]`` is (N, S, S), the maps of the same N images (true class ``labels``) at one
    size S.
    """
    rows = []
    for k, name in enumerate(classes):
        chosen = np.nonzero(labels == k)[0]
        if len(chosen) == 0:
            continue
        for a, b in itertools.combinations(maps, 2):
            rows.append(
                {
                    "class": name,
                    "model_a": a,
                    "model_b": b,
                    "iou": float(np.mean([iou(maps[a][i], maps[b][i], fraction) for i in chosen])),
                    "pearson": float(np.mean([pearson(maps[a][i], maps[b][i]) for i in chosen])),
                    "n": len(chosen),
                }
            )
    return rows
