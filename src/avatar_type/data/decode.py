"""Decode any input file into RGB(A) pixels plus its original metadata, or reject it with a reason.

Every failure mode of real-world image folders ends here as a ``Rejected`` with a short reason
(empty, not an image, truncated, decompression bomb, too small, ...) instead of a crash.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# libjpeg's standard luminance table at quality 50, used to estimate a JPEG's quality.
_STD_LUMA = np.array(
    [
        16,
        11,
        10,
        16,
        24,
        40,
        51,
        61,
        12,
        12,
        14,
        19,
        26,
        58,
        60,
        55,
        14,
        13,
        16,
        24,
        40,
        57,
        69,
        56,
        14,
        17,
        22,
        29,
        51,
        87,
        80,
        62,
        18,
        22,
        37,
        56,
        68,
        109,
        103,
        77,
        24,
        35,
        55,
        64,
        81,
        104,
        113,
        92,
        49,
        64,
        78,
        87,
        103,
        121,
        120,
        101,
        72,
        92,
        95,
        98,
        112,
        100,
        103,
        99,
    ],
    dtype=np.float64,
)


class Rejected(Exception):
    """An input that cannot become a training image; ``reason`` goes to the rejects table."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Decoded:
    """Pixels (H, W, 3 or 4; uint8) and what the original file looked like."""

    pixels: np.ndarray
    format: str
    width: int
    height: int
    mode: str
    file_size: int
    has_alpha: bool
    jpeg_quality: int  # -1 when not a JPEG
    frames: int
    visible: float  # share of pixels not fully transparent (1.0 without an alpha channel)


def estimate_jpeg_quality(image: Image.Image) -> int:
    """libjpeg quality (1-100) that best explains the luminance quantisation table; -1 if none."""
    tables = getattr(image, "quantization", None)
    if not tables:
        return -1
    table = np.asarray(tables[min(tables)], dtype=np.float64)[:64]
    scale = float(np.mean(table / _STD_LUMA[: len(table)])) * 100.0
    quality = (200.0 - scale) / 2.0 if scale <= 100.0 else 5000.0 / scale
    return int(np.clip(round(quality), 1, 100))


def _to_8bit(image: Image.Image) -> Image.Image:
    """Bring 16/32-bit greyscale and float modes to 8-bit by their actual range."""
    arr = np.asarray(image, dtype=np.float64)
    lo, hi = float(arr.min()), float(arr.max())
    scaled = np.zeros_like(arr) if hi <= lo else (arr - lo) / (hi - lo) * 255.0
    return Image.fromarray(scaled.round().astype(np.uint8), mode="L")


def _to_rgb_or_rgba(image: Image.Image) -> Image.Image:
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        image = _to_8bit(image)
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("LA", "PA", "RGBa", "La") or (
        image.mode == "L" and "transparency" in image.info
    ):
        image = image.convert("RGBA")
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV
    if image.mode == "RGBA" and np.asarray(image.getchannel("A")).min() == 255:
        image = image.convert("RGB")  # an alpha channel that is fully opaque carries nothing
    return image


def _visible_share(image: Image.Image) -> float:
    if image.mode != "RGBA":
        return 1.0
    return float((np.asarray(image.getchannel("A")) > 0).mean())


def decode(path: Path, min_side: int, max_pixels: int) -> Decoded:
    """Decode ``path``; raise Rejected with a reason for anything that is not a usable image."""
    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        raise Rejected("empty file (0 bytes)")
    previous_limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                fmt = image.format or "UNKNOWN"
                width, height = image.size
                if width * height > max_pixels:
                    raise Rejected(
                        f"{width}x{height} exceeds {max_pixels} pixels (decompression bomb?)"
                    )
                frames = int(getattr(image, "n_frames", 1))
                quality = estimate_jpeg_quality(image) if fmt == "JPEG" else -1
                mode = image.mode
                image.seek(0)
                image.load()
                oriented = ImageOps.exif_transpose(image)
                converted = _to_rgb_or_rgba(oriented)
    except Rejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise Rejected(f"decompression bomb: {exc}") from exc
    except UnidentifiedImageError as exc:
        raise Rejected("not an image file (format not recognised)") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise Rejected(f"corrupt or truncated image: {exc}") from exc
    finally:
        Image.MAX_IMAGE_PIXELS = previous_limit  # PIL's limit is process-wide state
    w, h = converted.size
    if min(w, h) < min_side:
        raise Rejected(f"too small: {w}x{h} < {min_side} px")
    return Decoded(
        pixels=np.asarray(converted).copy(),
        format=fmt,
        width=width,
        height=height,
        mode=mode,
        file_size=size,
        has_alpha=converted.mode == "RGBA",
        jpeg_quality=quality,
        frames=frames,
        visible=_visible_share(converted),
    )
