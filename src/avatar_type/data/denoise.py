"""CoherentNoiseFilter: a selective salt-and-pepper filter that leaves every other pixel alone.

A global median blur also erases the fine texture that separates generated from real images.
This filter only replaces pixels that look like impulse noise: a pixel is suspect when any of its
channels is within ``tolerance`` of 0 or 255 (the masks of R, G and B are combined, so noise in
one channel never leaves a coloured speck), and suspect pixels take the 3x3 median of their
neighbourhood. All other pixels stay bit-identical.
"""

from __future__ import annotations

import cv2
import numpy as np

from avatar_type.errors import ParamsError


def noise_mask(rgb: np.ndarray, tolerance: int) -> np.ndarray:
    """Boolean (H, W) mask of pixels with any channel <= tolerance or >= 255 - tolerance."""
    if not 0 <= tolerance < 128:
        raise ParamsError(f"tolerance must be in [0, 127], got {tolerance}")
    extreme = (rgb <= tolerance) | (rgb >= 255 - tolerance)
    return extreme.any(axis=2)


def coherent_noise_filter(rgb: np.ndarray, tolerance: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """Return (filtered image, boolean mask of pixels whose value changed)."""
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) uint8 image, got {rgb.dtype} {rgb.shape}")
    mask = noise_mask(rgb, tolerance)
    median = cv2.medianBlur(rgb, 3)
    out = np.where(mask[..., None], median, rgb)
    return out, (out != rgb).any(axis=2)
