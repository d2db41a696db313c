"""Classification metrics over the class list of ``labels.py``, in its order."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
    roc_auc_score,
)

from avatar_type.evaluate.uncertainty import bootstrap_intervals
from avatar_type.labels import CLASSES


def classification_report(probs: np.ndarray, y: np.ndarray, seed: int | None = None) -> dict:
    """Accuracy, macro-F1, balanced accuracy, per-class precision/recall/F1, confusion matrix
    (rows: true class, columns: predicted), one-vs-rest ROC-AUC and average precision; with a
    seed, also bootstrap 95% intervals of macro-F1, accuracy and ECE (``ci95``)."""
    if probs.shape[1] != len(CLASSES):
        raise ValueError(f"expected {len(CLASSES)} probability columns, got {probs.shape[1]}")
    labels = list(range(len(CLASSES)))
    pred = probs.argmax(axis=1)
    precision, recall, f1, support = precision_recall_fscore_support(
        y, pred, labels=labels, zero_division=0
    )
    report = {
        "n": len(y),
        "accuracy": float(accuracy_score(y, pred)),
        "macro_f1": float(f1_score(y, pred, labels=labels, average="macro", zero_division=0)),
        "balanced_accuracy": float(balanced_accuracy_score(y, pred)),
        "per_class": {
            c: {
                "precision": float(precision[k]),
                "recall": float(recall[k]),
                "f1": float(f1[k]),
                "support": int(support[k]),
            }
            for k, c in enumerate(CLASSES)
        },
        "confusion": confusion_matrix(y, pred, labels=labels).tolist(),
    }
    present = [k for k in labels if (y == k).any() and (y != k).any()]
    report["roc_auc_ovr"] = {CLASSES[k]: float(roc_auc_score(y == k, probs[:, k])) for k in present}
    report["average_precision"] = {
        CLASSES[k]: float(average_precision_score(y == k, probs[:, k])) for k in present
    }
    if seed is not None:
        report["ci95"] = bootstrap_intervals(y, probs, seed)
    return report
