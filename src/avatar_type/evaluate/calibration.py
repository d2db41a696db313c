"""Calibration: ECE, MCE, NLL, Brier score, reliability bins and temperature scaling.

All functions take class probabilities ``probs`` (N, K) and integer labels ``y`` (N,).
"""

from __future__ import annotations

import numpy as np
import torch


def binned_sums(
    probs: np.ndarray, y: np.ndarray, idx: np.ndarray, n_bins: int = 15
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per resample (a row of image positions in ``idx``, shape (R, M)) and confidence bin (equal
    width on [0, 1]): image count, summed confidence and summed correctness, each (R, n_bins)."""
    conf = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == y).astype(float)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, n_bins - 1)
    # one bincount for all resamples: resample r's bins are offset to r * n_bins
    rows = len(idx)
    cells = (np.arange(rows)[:, None] * n_bins + which[idx]).ravel()

    def total(weights: np.ndarray | None = None) -> np.ndarray:
        return np.bincount(cells, weights, minlength=rows * n_bins).reshape(rows, n_bins)

    return total().astype(float), total(conf[idx].ravel()), total(correct[idx].ravel())


def reliability_bins(probs: np.ndarray, y: np.ndarray, n_bins: int = 15) -> dict[str, np.ndarray]:
    """Per confidence bin (equal width on [0, 1]): count, mean confidence and accuracy."""
    count, conf_sum, correct_sum = (
        a[0] for a in binned_sums(probs, y, np.arange(len(y))[None], n_bins)
    )
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    with np.errstate(invalid="ignore"):
        confidence = conf_sum / count
        accuracy = correct_sum / count
    return {
        "lower": edges[:-1],
        "upper": edges[1:],
        "count": count,
        "confidence": np.nan_to_num(confidence),
        "accuracy": np.nan_to_num(accuracy),
    }


def resampled_ece(
    probs: np.ndarray, y: np.ndarray, idx: np.ndarray, n_bins: int = 15
) -> np.ndarray:
    """ECE of each resample (row of image positions in ``idx``): the one ECE implementation."""
    count, conf_sum, correct_sum = binned_sums(probs, y, idx, n_bins)
    with np.errstate(invalid="ignore"):
        gap = np.nan_to_num(np.abs(correct_sum / count - conf_sum / count))
    return np.sum(count / idx.shape[1] * gap, axis=1)


def ece(probs: np.ndarray, y: np.ndarray, n_bins: int = 15) -> float:
    """Expected calibration error: sum over bins of |accuracy - confidence| x bin share."""
    return float(resampled_ece(probs, y, np.arange(len(y))[None], n_bins)[0])


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
