"""How well the penultimate features separate the classes: silhouette and distance ratios."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import pairwise_distances, silhouette_score


def separation(features: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Silhouette (Euclidean), mean intra- and inter-class distance, and their ratio."""
    d = pairwise_distances(features)
    same = y[:, None] == y[None, :]
    off_diagonal = ~np.eye(len(y), dtype=bool)
    intra = float(d[same & off_diagonal].mean())
    inter = float(d[~same].mean())
    return {
        "silhouette": float(silhouette_score(features, y)),
        "intra_distance": intra,
        "inter_distance": inter,
        "separation_ratio": inter / intra if intra > 0 else 0.0,
    }
