"""Label prior shift: resample test sets to given priors and correct predictions for it.

A classifier trained under priors p_train outputs p(y|x) proportional to p(x|y) p_train(y). Under
test priors q, the Bayes-correct posterior is proportional to p(y|x) q(y) / p_train(y). With q
unknown it is estimated by EM on the unlabelled test predictions (Saerens, Latinne and Decaestecker
2002).
"""

from __future__ import annotations

import numpy as np


def resample_to_priors(y: np.ndarray, priors: np.ndarray, seed: int) -> np.ndarray:
    """Indices of a subsample of ``y`` whose class shares are ``priors`` (largest that fits)."""
    priors = np.asarray(priors, dtype=float) / np.sum(priors)
    counts = np.bincount(y, minlength=len(priors))
    with np.errstate(divide="ignore"):
        total = np.min(np.where(priors > 0, counts / priors, np.inf))
    rng = np.random.default_rng(seed)
    picks = [
        rng.choice(np.nonzero(y == k)[0], size=int(np.floor(total * p)), replace=False)
        for k, p in enumerate(priors)
    ]
    return np.sort(np.concatenate(picks))


def adjust_to_priors(
    probs: np.ndarray, train_priors: np.ndarray, test_priors: np.ndarray
) -> np.ndarray:
    """Re-weight posteriors from training priors to test priors and renormalise."""
    w = np.asarray(test_priors, float) / np.asarray(train_priors, float)
    adjusted = probs * w
    return adjusted / adjusted.sum(axis=1, keepdims=True)


def em_priors(
    probs: np.ndarray, train_priors: np.ndarray, tol: float = 1e-8, max_iter: int = 1000
) -> np.ndarray:
    """EM estimate of the test priors from unlabelled posteriors (Saerens et al. 2002)."""
    train_priors = np.asarray(train_priors, float)
    q = train_priors.copy()
    for _ in range(max_iter):
        posterior = adjust_to_priors(probs, train_priors, q)
        new_q = posterior.mean(axis=0)
        if np.max(np.abs(new_q - q)) < tol:
            return new_q
        q = new_q
    return q
