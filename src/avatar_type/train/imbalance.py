"""Class-imbalance handling: weighted loss, weighted sampler, logit adjustment.

Weighting the loss and resampling at the same time corrects the imbalance twice (the study's
mistake); it is refused unless ``allow_double_correction`` says it is meant.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import WeightedRandomSampler

from avatar_type.errors import ParamsError

METHODS = ("none", "weighted_loss", "weighted_sampler", "logit_adjust", "loss_and_sampler")


def class_counts(labels: np.ndarray, num_classes: int) -> np.ndarray:
    return np.bincount(labels, minlength=num_classes)


def class_weights(labels: np.ndarray, num_classes: int) -> torch.Tensor:
    """total / (K * count_k), as in the deepfake seed; 0 for a class with no images."""
    counts = class_counts(labels, num_classes).astype(np.float64)
    weights = np.where(counts > 0, len(labels) / (num_classes * np.maximum(counts, 1)), 0.0)
    return torch.tensor(weights, dtype=torch.float32)


def sampler(
    labels: np.ndarray, num_classes: int, generator: torch.Generator
) -> WeightedRandomSampler:
    """Draws every class equally often in expectation (per-sample weight 1 / class count)."""
    counts = class_counts(labels, num_classes)
    per_sample = 1.0 / counts[labels]
    return WeightedRandomSampler(
        torch.tensor(per_sample, dtype=torch.double),
        len(labels),
        replacement=True,
        generator=generator,
    )


def log_prior(labels: np.ndarray, num_classes: int) -> torch.Tensor:
    """log of the training class frequencies (for logit adjustment, Menon et al. 2021)."""
    counts = class_counts(labels, num_classes).astype(np.float64) + 1e-12
    return torch.tensor(np.log(counts / counts.sum()), dtype=torch.float32)


def check_method(method: str, allow_double_correction: bool, where: str) -> None:
    if method not in METHODS:
        raise ParamsError(f"{where}.imbalance: {method!r} is not one of {', '.join(METHODS)}")
    if method == "loss_and_sampler" and not allow_double_correction:
        raise ParamsError(
            f"{where}.imbalance: loss_and_sampler corrects the imbalance twice (weighted loss on "
            "a balanced sampler); set allow_double_correction: true if that is intended"
        )
