"""Bootstrap uncertainty of test metrics: percentile intervals for one model and a paired
comparison of two models on the same images.

Every resample is drawn at once as an index matrix (rows: resamples, columns: image positions)
so that a thousand resamples cost a few array operations, not a thousand metric calls.
"""

from __future__ import annotations

import numpy as np

from avatar_type.evaluate.calibration import resampled_ece
from avatar_type.labels import CLASSES


def macro_f1(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Macro-F1 over CLASSES of each row of label and prediction arrays (R, N), as sklearn's
    ``f1_score(average="macro", labels=[0, 1, 2], zero_division=0)`` of that row."""
    k = len(CLASSES)
    y, pred = np.atleast_2d(y), np.atleast_2d(pred)
    # every row's confusion matrix from one bincount, row r offset to r * k * k
    cells = (np.arange(len(y))[:, None] * k * k + y * k + pred).ravel()
    confusion = np.bincount(cells, minlength=len(y) * k * k).reshape(len(y), k, k)
    tp = np.diagonal(confusion, axis1=1, axis2=2)
    # true count + predicted count = 2 TP + FP + FN, the F1 denominator
    denominator = confusion.sum(axis=2) + confusion.sum(axis=1)
    f1 = np.divide(2 * tp, denominator, out=np.zeros(tp.shape), where=denominator > 0)
    return f1.mean(axis=1)


def _resamples(n: int, seed: int, n_boot: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n, size=(n_boot, n))


def _interval(values: np.ndarray, level: float) -> list[float]:
    tail = 100 * (1 - level) / 2
    return np.round(np.percentile(values, [tail, 100 - tail]), 4).tolist()


def bootstrap_intervals(
    y: np.ndarray, probs: np.ndarray, seed: int, n_boot: int = 1000, level: float = 0.95
) -> dict[str, list[float]]:
    """Percentile bootstrap intervals of macro-F1, accuracy and ECE (15 bins), resampling the
    images with replacement."""
    idx = _resamples(len(y), seed, n_boot)
    pred = probs.argmax(axis=1)
    return {
        "macro_f1": _interval(macro_f1(y[idx], pred[idx]), level),
        "accuracy": _interval((pred == y)[idx].mean(axis=1), level),
        "ece": _interval(resampled_ece(probs, y, idx), level),
    }


def paired_bootstrap(
    y: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray, seed: int, n_boot: int = 1000
) -> dict[str, float | list[float]]:
    """Macro-F1 of model a minus model b on the same images, with a 95% interval from resampling
    the images (both models see the same resample, so image difficulty cancels out) and the share
    of resamples where a is not better."""
    idx = _resamples(len(y), seed, n_boot)
    diffs = macro_f1(y[idx], pred_a[idx]) - macro_f1(y[idx], pred_b[idx])
    return {
        "diff": round(float(macro_f1(y, pred_a)[0] - macro_f1(y, pred_b)[0]), 4),
        "ci95": _interval(diffs, 0.95),
        "p_a_not_better": round(float(np.mean(diffs <= 0)), 4),
    }


def tied(result: dict) -> bool:
    """A paired comparison is a tie when the interval of the difference contains 0."""
    lo, hi = result["ci95"]
    return lo <= 0 <= hi
