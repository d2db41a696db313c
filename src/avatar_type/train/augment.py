"""Augmentation on batched tensors (on the GPU when training there), per-sample strength.

Minority classes can get the stronger augmentation of the Simpsons seed (colour jitter 0.3,
rotation 30 degrees, translation 0.15) while the others get a light one (jitter 0.1): each sample's
strength is chosen by its label.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AugmentStrength:
    jitter: float = 0.1  # brightness, contrast and saturation factors in [1 - j, 1 + j]
    rotate: float = 0.0  # degrees
    translate: float = 0.0  # share of the image side
    flip: bool = True


def _rand(gen: torch.Generator, device: torch.device, *shape: int) -> torch.Tensor:
    """Uniform draws from the (CPU) generator, moved to the batch's device: one random stream
    whatever the device, so CPU and GPU runs augment alike."""
    return torch.rand(*shape, generator=gen).to(device)


def _factors(n: int, amount: float, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    return 1.0 + (_rand(gen, device, n) * 2 - 1) * amount


def augment(
    x: torch.Tensor, strengths: list[AugmentStrength], gen: torch.Generator
) -> torch.Tensor:
    """Augment float NCHW images in [0, 255]; ``strengths[i]`` applies to sample ``i``."""
    n, device = x.shape[0], x.device
    jitter = torch.tensor([s.jitter for s in strengths], device=device)
    rotate = torch.tensor([s.rotate for s in strengths], device=device)
    shift = torch.tensor([s.translate for s in strengths], device=device)
    flip = torch.tensor([s.flip for s in strengths], device=device)

    do_flip = flip & (_rand(gen, device, n) < 0.5)
    x = torch.where(do_flip.view(n, 1, 1, 1), x.flip(3), x)

    moved = (rotate > 0) | (shift > 0)
    if bool(moved.any()):
        angle = (_rand(gen, device, n) * 2 - 1) * rotate * math.pi / 180
        t = (_rand(gen, device, n, 2) * 2 - 1) * shift.view(n, 1) * 2
        cos, sin = torch.cos(angle), torch.sin(angle)
        theta = torch.stack(
            [torch.stack([cos, -sin, t[:, 0]], 1), torch.stack([sin, cos, t[:, 1]], 1)], 1
        )[moved]
        # resampling is the costly step: only the samples that rotate or shift pay for it
        part = x[moved]
        grid = F.affine_grid(theta, list(part.shape), align_corners=False)
        x = x.clone()
        x[moved] = F.grid_sample(
            part, grid, mode="bilinear", padding_mode="reflection", align_corners=False
        )

    brightness, contrast, saturation = (
        1 + (_factors(n, 1.0, gen, device) - 1) * jitter for _ in range(3)
    )
    x = x * brightness.view(n, 1, 1, 1)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * contrast.view(n, 1, 1, 1) + mean
    grey = x.mean(dim=1, keepdim=True)
    x = (x - grey) * saturation.view(n, 1, 1, 1) + grey
    return x.clamp(0, 255)


def strengths_for(
    labels: torch.Tensor, minority: set[int], light: AugmentStrength, strong: AugmentStrength
) -> list[AugmentStrength]:
    """Strong augmentation for samples of ``minority`` classes, light for the rest."""
    return [strong if int(y) in minority else light for y in labels]


def minority_classes(counts: list[int], ratio: float) -> set[int]:
    """Classes with fewer than ``ratio`` x the largest class's training images."""
    top = max(counts)
    return {k for k, c in enumerate(counts) if c < ratio * top}
