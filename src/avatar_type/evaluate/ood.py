"""Behaviour on out-of-domain images: predicted-class shares, Unbias, confidence, OOD detection,
and abstention at a threshold fitted on in-domain validation images."""

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


def ood_score(logits: np.ndarray) -> np.ndarray:
    """Free energy -log sum exp(logits), the negative of ``energy_score``: higher means less
    familiar, so an image is flagged when its score is above the threshold."""
    return -energy_score(logits)


def fit_threshold(logits: np.ndarray, tpr: float) -> float:
    """The ``ood_score`` at or below which a share ``tpr`` of these in-domain images fall (an
    observed score, so at least that share counts as familiar)."""
    return float(np.quantile(ood_score(logits), tpr, method="higher"))


def unfamiliar(logits: np.ndarray, threshold: float) -> np.ndarray:
    """Which images score above ``threshold``: the ones to abstain on."""
    return ood_score(logits) > threshold


def detection_auroc(in_scores: np.ndarray, out_scores: np.ndarray) -> float:
    """AUROC of telling in-domain (positive) from OOD images by a score that is higher in-domain."""
    y = np.r_[np.ones(len(in_scores)), np.zeros(len(out_scores))]
    return float(roc_auc_score(y, np.r_[in_scores, out_scores]))
