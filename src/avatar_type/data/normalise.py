"""One normalisation for every class: composite transparency, square crop, resize, re-encode.

Applying the identical procedure to real, drawn and generated images removes the format, size
and background shortcuts that detectors otherwise learn instead of content.
"""

from __future__ import annotations

import io
import zlib

import cv2
import numpy as np
from PIL import Image


def background(height: int, width: int, key: str) -> np.ndarray:
    """A varied but deterministic background: a two-colour gradient with mild grain."""
    rng = np.random.default_rng(zlib.crc32(key.encode()))
    c0, c1 = rng.integers(0, 256, size=(2, 3)).astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    t = np.cos(angle) * xx / max(width - 1, 1) + np.sin(angle) * yy / max(height - 1, 1)
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    img = c0 + (c1 - c0) * t[..., None]
    img += rng.normal(0, rng.uniform(0, 6), size=img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def composite(pixels: np.ndarray, key: str) -> np.ndarray:
    """Blend an RGBA image over ``background(key)``; RGB images pass through unchanged."""
    if pixels.shape[2] == 3:
        return pixels
    alpha = pixels[..., 3:4].astype(np.float32) / 255.0
    bg = background(pixels.shape[0], pixels.shape[1], key).astype(np.float32)
    out = pixels[..., :3].astype(np.float32) * alpha + bg * (1.0 - alpha)
    return np.clip(out.round(), 0, 255).astype(np.uint8)


def square_crop(
    pixels: np.ndarray, box: tuple[int, int, int, int] | None = None, margin: float = 1.0
) -> np.ndarray:
    """Centre square crop, or a square around ``box`` (x, y, w, h) scaled by ``margin``.

    The square is clipped to the image, so a face near the border gives a smaller crop.
    """
    h, w = pixels.shape[:2]
    if box is None:
        side = min(h, w)
        y0, x0 = (h - side) // 2, (w - side) // 2
        return pixels[y0 : y0 + side, x0 : x0 + side]
    bx, by, bw, bh = box
    cx, cy = bx + bw / 2.0, by + bh / 2.0
    half = min(max(bw, bh) * margin / 2.0, cx, cy, w - cx, h - cy)
    x0, y0 = round(cx - half), round(cy - half)
    side = max(round(2 * half), 1)
    return pixels[y0 : y0 + side, x0 : x0 + side]


def resize(pixels: np.ndarray, size: int) -> np.ndarray:
    """Area averaging when shrinking, bicubic when enlarging, to exactly size x size."""
    h, w = pixels.shape[:2]
    interp = cv2.INTER_AREA if min(h, w) >= size else cv2.INTER_CUBIC
    return cv2.resize(pixels, (size, size), interpolation=interp)


def encode_jpeg(pixels: np.ndarray, quality: int) -> bytes:
    """The one encoding every normalised image gets (baseline JPEG, 4:2:0)."""
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG", quality=quality, subsampling=2, optimize=True)
    return buf.getvalue()
