"""How well the penultimate features separate the classes: silhouette and distance ratios."""

from __future__ import annotations

import numpy as np
from sklearn.manifold import TSNE
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


def tsne_2d(features: np.ndarray, seed: int) -> np.ndarray:
    """(N, 2) t-SNE map of the features (PCA init, perplexity below N as t-SNE requires)."""
    perplexity = float(min(30, max(2, (len(features) - 1) // 3)))
    return TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(features)
