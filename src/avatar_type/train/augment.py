"""Augmentation on batched tensors (on the GPU when training there), per-sample strength.

Minority classes can get the stronger augmentation of the Simpsons seed (colour jitter 0.3,
rotation 30 degrees, translation 0.15) while the others get a light one (jitter 0.1): each sample's
strength is chosen by its label.

Before that, optional image-quality augmentation in the CNNDetection order (random resized crop,
down-and-up scaling, Gaussian blur, JPEG re-compression), each with its own probability: sources
differ in native resolution, sharpness and compression, and a model must not learn those as the
class. Only the selected samples are processed.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from avatar_type.data.normalise import encode_jpeg
from avatar_type.train.config import AugmentConfig


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


def _chosen(p: float, n: int, gen: torch.Generator) -> torch.Tensor | None:
    """Indices (CPU) of the samples an op with probability ``p`` picks; None when it picks none.
    An op that is off draws nothing, so the other ops' random stream and output are as without
    it."""
    if p <= 0:
        return None
    idx = (torch.rand(n, generator=gen) < p).nonzero().flatten()
    return idx if len(idx) else None


def _crop(x: torch.Tensor, cfg: AugmentConfig, gen: torch.Generator) -> torch.Tensor:
    """Random resized crop of each image: area share in [crop_scale_min, 1], aspect ratio in
    [3/4, 4/3] (log-uniform), resampled back to the input size in one batched grid_sample."""
    n, lo = len(x), cfg.crop_scale_min
    area = lo + torch.rand(n, generator=gen) * (1 - lo)
    ratio = torch.exp((torch.rand(n, generator=gen) * 2 - 1) * math.log(4 / 3))
    w = torch.sqrt(area * ratio).clamp(max=1)
    h = torch.sqrt(area / ratio).clamp(max=1)
    cx = (torch.rand(n, generator=gen) * 2 - 1) * (1 - w)
    cy = (torch.rand(n, generator=gen) * 2 - 1) * (1 - h)
    zero = torch.zeros(n)
    theta = torch.stack([torch.stack([w, zero, cx], 1), torch.stack([zero, h, cy], 1)], 1)
    grid = F.affine_grid(theta.to(x.device, x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def _rescale(x: torch.Tensor, cfg: AugmentConfig, gen: torch.Generator) -> torch.Tensor:
    """Downscale each image by a factor in [rescale_min, 1] (antialiased) and back up: the blur
    and loss of detail of a low-resolution source."""
    lo, size = cfg.rescale_min, x.shape[-2:]
    factors = lo + torch.rand(len(x), generator=gen) * (1 - lo)
    out = torch.empty_like(x)
    for i, f in enumerate(factors.tolist()):
        small = [max(1, round(s * f)) for s in size]
        down = F.interpolate(x[i : i + 1], small, mode="bilinear", antialias=True)
        out[i] = F.interpolate(down, size, mode="bilinear", align_corners=False)[0]
    return out


def _blur(x: torch.Tensor, cfg: AugmentConfig, gen: torch.Generator) -> torch.Tensor:
    """Gaussian blur, sigma in [0.1, blur_sigma_max] per image: separable, one grouped
    convolution per axis for the whole batch."""
    m, c, h, w = x.shape
    sigmas = 0.1 + torch.rand(m, generator=gen) * (cfg.blur_sigma_max - 0.1)
    radius = min(math.ceil(3 * cfg.blur_sigma_max), h - 1, w - 1)  # reflection needs pad < side
    t = torch.arange(-radius, radius + 1, dtype=x.dtype)
    k = torch.exp(-(t**2) / (2 * sigmas.to(x.dtype).view(m, 1) ** 2))
    k = (k / k.sum(1, keepdim=True)).repeat_interleave(c, 0).to(x.device)  # (m * c, taps)
    y = F.pad(x.reshape(1, m * c, h, w), (radius, radius, radius, radius), mode="reflect")
    y = F.conv2d(y, k.view(m * c, 1, -1, 1), groups=m * c)
    y = F.conv2d(y, k.view(m * c, 1, 1, -1), groups=m * c)
    return y.view(m, c, h, w)


def _recompress(x: torch.Tensor, qualities: list[int]) -> torch.Tensor:
    """Re-encode each image at its quality with the pipeline's own JPEG encoder (Pillow, 4:2:0;
    torchvision's JPEG codec is deprecated)."""
    pixels = x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    out = [
        np.asarray(Image.open(io.BytesIO(encode_jpeg(im, q))).convert("RGB"))
        for im, q in zip(pixels, qualities, strict=True)
    ]
    return torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).to(x.device, x.dtype)


def _jpeg(x: torch.Tensor, cfg: AugmentConfig, gen: torch.Generator) -> torch.Tensor:
    """JPEG re-compression at a quality in [jpeg_quality_min, 95] per image."""
    span = 96 - cfg.jpeg_quality_min
    draws = torch.rand(len(x), generator=gen).tolist()
    return _recompress(x, [cfg.jpeg_quality_min + int(v * span) for v in draws])


# the CNNDetection order; each op draws its parameters for its picked samples only
QUALITY_OPS = (("crop_p", _crop), ("rescale_p", _rescale), ("blur_p", _blur), ("jpeg_p", _jpeg))


def _degrade(x: torch.Tensor, cfg: AugmentConfig, gen: torch.Generator) -> torch.Tensor:
    out = x
    for key, op in QUALITY_OPS:
        if (idx := _chosen(getattr(cfg, key), len(x), gen)) is None:
            continue
        if out is x:
            out = x.clone()  # written in place from here on; the caller's batch is left alone
        at = idx.to(x.device)
        out[at] = op(out[at], cfg, gen)
    return out


def augment(
    x: torch.Tensor,
    strengths: list[AugmentStrength],
    gen: torch.Generator,
    quality: AugmentConfig | None = None,
) -> torch.Tensor:
    """Augment float NCHW images in [0, 255]; ``strengths[i]`` applies to sample ``i``, the
    image-quality ops of ``quality`` (its ``*_p`` fields) to every sample alike."""
    if quality is not None:
        x = _degrade(x, quality, gen)
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
