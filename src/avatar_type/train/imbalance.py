"""Class-imbalance handling: weighted loss, weighted sampler, logit adjustment.

Weighting the loss and resampling at the same time corrects the imbalance twice (the study's
mistake); it is refused unless ``allow_double_correction`` says it is meant.

Within a class, sources can be balanced too (``source_weights``): one large source (23 DiceBear
styles, one 64-px GAN) would otherwise decide what a class looks like.
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


def source_weights(labels: np.ndarray, sources: np.ndarray, power: float) -> np.ndarray:
    """Per-sample weights ``count(source)^-power``, rescaled to mean 1 within each class.

    ``power`` 0 weighs every image alike; 1 gives every source of a class the same total weight
    (a one-image source then weighs as much as a 300-image one); in between tempers the largest.
    Class totals are unchanged, so class-imbalance handling composes with it.
    """
    if not 0 <= power <= 1:
        raise ValueError(f"source balance power must be in [0, 1], got {power}")
    weights = np.ones(len(labels), dtype=np.float64)
    if power == 0:
        return weights
    keys = np.char.add(np.char.add(labels.astype(str), "\0"), sources.astype(str))
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    weights = counts[inverse].astype(np.float64) ** -power
    for k in np.unique(labels):
        mask = labels == k
        weights[mask] *= mask.sum() / weights[mask].sum()
    return weights


def sampler(
    labels: np.ndarray,
    num_classes: int,
    generator: torch.Generator,
    sample_weights: np.ndarray | None = None,
) -> WeightedRandomSampler:
    """Draws every class equally often in expectation (per-sample weight 1 / class count),
    within a class in proportion to ``sample_weights`` (source balance) when given."""
    counts = class_counts(labels, num_classes)
    per_sample = 1.0 / counts[labels]
    if sample_weights is not None:
        per_sample = per_sample * sample_weights
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
