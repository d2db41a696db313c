"""Calibration: ECE, MCE, NLL, Brier score, reliability bins and temperature scaling.

All functions take class probabilities ``probs`` (N, K) and integer labels ``y`` (N,).
"""

from __future__ import annotations

import numpy as np
import torch


def reliability_bins(probs: np.ndarray, y: np.ndarray, n_bins: int = 15) -> dict[str, np.ndarray]:
    """Per confidence bin (equal width on [0, 1]): count, mean confidence and accuracy."""
    conf = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == y).astype(float)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, n_bins - 1)
    count = np.bincount(which, minlength=n_bins).astype(float)
    with np.errstate(invalid="ignore"):
        confidence = np.bincount(which, weights=conf, minlength=n_bins) / count
        accuracy = np.bincount(which, weights=correct, minlength=n_bins) / count
    return {
        "lower": edges[:-1],
        "upper": edges[1:],
        "count": count,
        "confidence": np.nan_to_num(confidence),
        "accuracy": np.nan_to_num(accuracy),
    }


def ece(probs: np.ndarray, y: np.ndarray, n_bins: int = 15) -> float:
    """Expected calibration error: sum over bins of |accuracy - confidence| x bin share."""
    b = reliability_bins(probs, y, n_bins)
    return float(np.sum(b["count"] / len(y) * np.abs(b["accuracy"] - b["confidence"])))


def mce(probs: np.ndarray, y: np.ndarray, n_bins: int = 15) -> float:
    """Maximum calibration error over non-empty bins."""
    b = reliability_bins(probs, y, n_bins)
    gaps = np.abs(b["accuracy"] - b["confidence"])[b["count"] > 0]
    return float(gaps.max()) if len(gaps) else 0.0


def nll(probs: np.ndarray, y: np.ndarray, eps: float = 1e-12) -> float:
    """Mean negative log-likelihood of the true class."""
    return float(-np.mean(np.log(np.clip(probs[np.arange(len(y)), y], eps, 1.0))))


def brier(probs: np.ndarray, y: np.ndarray) -> float:
    """Multi-class Brier score: mean squared distance to the one-hot label."""
    onehot = np.eye(probs.shape[1])[y]
    return float(np.mean(np.sum((probs - onehot) ** 2, axis=1)))


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(logits: np.ndarray, y: np.ndarray, max_iter: int = 200) -> float:
    """Temperature T > 0 minimising the NLL of softmax(logits / T) (Guo et al. 2017), by LBFGS."""
    log_t = torch.zeros(1, requires_grad=True)
    x, target = torch.as_tensor(logits, dtype=torch.float64), torch.as_tensor(y)
    opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(x / log_t.exp(), target)
        loss.backward()
        return loss

    opt.step(closure)
    return float(log_t.detach().exp())


def calibration_report(probs: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """ECE at 15 bins (and 10, as the study), MCE, NLL and Brier."""
    return {
        "ece": ece(probs, y, 15),
        "ece_10": ece(probs, y, 10),
        "mce": mce(probs, y, 15),
        "nll": nll(probs, y),
        "brier": brier(probs, y),
    }
