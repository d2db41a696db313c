"""Deterministic image corruptions at graded severities for the robustness audit.

Each takes and returns a uint8 HWC RGB array. Severity lists always include the study's own
setting (noise sigma 15/255, blur kernel 5, brightness x1.5, rotation 15 degrees, JPEG quality 30).
Randomness (the Gaussian noise) comes from a generator seeded by the caller, so every run and
every model sees the same corrupted pixels.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import cv2
import numpy as np
from PIL import Image

SEVERITIES: dict[str, tuple[float, ...]] = {
    "gaussian_noise": (8.0, 15.0, 30.0),  # sigma in 0-255 units
    "gaussian_blur": (3.0, 5.0, 9.0),  # kernel size
    "brightness": (1.25, 1.5, 2.0),  # multiplier
    "rotation": (5.0, 15.0, 30.0),  # degrees
    "jpeg": (70.0, 30.0, 10.0),  # quality (lower is stronger)
}


def gaussian_noise(img: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    noisy = img.astype(np.float32) + rng.normal(0.0, sigma, img.shape).astype(np.float32)
    return np.clip(noisy.round(), 0, 255).astype(np.uint8)


def gaussian_blur(img: np.ndarray, kernel: float, _rng=None) -> np.ndarray:
    k = int(kernel) | 1  # odd kernel; sigma derived from it as OpenCV does
    return cv2.GaussianBlur(img, (k, k), 0)


def brightness(img: np.ndarray, factor: float, _rng=None) -> np.ndarray:
    return np.clip(img.astype(np.float32) * factor, 0, 255).round().astype(np.uint8)


def rotation(img: np.ndarray, degrees: float, _rng=None) -> np.ndarray:
    h, w = img.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(
        img, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
    )


def jpeg(img: np.ndarray, quality: float, _rng=None) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=int(quality))
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


CORRUPTIONS: dict[str, Callable[..., np.ndarray]] = {
    "gaussian_noise": gaussian_noise,
    "gaussian_blur": gaussian_blur,
    "brightness": brightness,
    "rotation": rotation,
    "jpeg": jpeg,
}


def corrupt_all(images: np.ndarray, name: str, severity: float, seed: int) -> np.ndarray:
    """Corrupt every image of an (N, H, W, 3) uint8 array; image i uses seed (seed, i)."""
    fn = CORRUPTIONS[name]
    return np.stack(
        [fn(img, severity, np.random.default_rng([seed, i])) for i, img in enumerate(images)]
    )
