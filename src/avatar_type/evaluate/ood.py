"""Behaviour on out-of-domain images: predicted-class shares, Unbias, confidence, OOD detection."""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp
from sklearn.metrics import roc_auc_score


def class_shares(probs: np.ndarray) -> np.ndarray:
    """Share of images predicted as each class."""
    return np.bincount(probs.argmax(axis=1), minlength=probs.shape[1]) / len(probs)


def unbias(probs: np.ndarray) -> float:
    """1 - the largest predicted-class share: 0 when everything lands in one class,
    1 - 1/K (0.667 for three classes) when predictions spread evenly."""
    return float(1.0 - class_shares(probs).max())


def max_softmax(probs: np.ndarray) -> np.ndarray:
    return probs.max(axis=1)


def energy_score(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Negative free energy T log sum exp(logits / T): higher means more in-domain (Liu 2020)."""
    return temperature * logsumexp(logits / temperature, axis=1)


def detection_auroc(in_scores: np.ndarray, out_scores: np.ndarray) -> float:
    """AUROC of telling in-domain (positive) from OOD images by a score that is higher in-domain."""
    y = np.r_[np.ones(len(in_scores)), np.zeros(len(out_scores))]
    return float(roc_auc_score(y, np.r_[in_scores, out_scores]))
