"""The content-shortcut audit: each image statistic on hand-made cases, the audit on a synthetic
set with a blur/resolution shortcut, and its figure."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pandas as pd
import pytest
from helpers import jpeg_bytes, png_bytes
from PIL import Image

from avatar_type.data.shortcut_audit import (
    PIXEL_STATISTICS,
    STATISTICS,
    background_flatness,
    colour_count,
    content_audit,
    high_frequency_share,
    jpeg_grid,
    pixel_statistics,
)
from avatar_type.labels import CLASSES
from avatar_type.train.config import AugmentConfig
from avatar_type.viz.data_plots import plot_content_audit

SIDE = 64
PER_CLASS = 10


def stats_of(*images: np.ndarray) -> pd.DataFrame:
    return pixel_statistics(np.stack(images))


def smooth(seed: int, side: int = SIDE) -> np.ndarray:
    """A photo-like image: a smooth colour field with mild grain."""
    rng = np.random.default_rng(seed)
    field = cv2.resize(rng.uniform(0, 255, (4, 4, 3)).astype(np.float32), (side, side))
    return np.clip(field + rng.normal(0, 4, field.shape), 0, 255).astype(np.uint8)


def decoded(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def test_a_flat_image_has_one_colour_a_flat_background_and_no_detail():
    flat = np.full((SIDE, SIDE, 3), (30, 140, 200), np.uint8)
    row = stats_of(flat).iloc[0]
    assert row["colour_count"] == 1
    assert row["background_flatness"] == 1.0
    assert row["sharpness"] == 0.0
    assert row["high_frequency"] == 0.0
    assert row["jpeg_grid"] == pytest.approx(1.0)  # no steps anywhere: no grid


def test_colour_count_quantises_to_five_bits():
    image = np.zeros((8, 8, 3), np.uint8)
    image[:4, :4] = (0, 0, 0)
    image[:4, 4:] = (7, 7, 7)  # same 5-bit bin as black
    image[4:, :4] = (8, 0, 0)  # the next red bin
    image[4:, 4:] = (255, 255, 255)
    assert colour_count(image) == 3


def test_a_checkerboard_is_almost_all_high_frequency():
    checker = (np.indices((SIDE, SIDE)).sum(0) % 2 * 255).astype(np.float32)
    ramp = np.tile(np.linspace(0, 255, SIDE, dtype=np.float32), (SIDE, 1))
    share = high_frequency_share(np.stack([checker, ramp]))
    assert share[0] > 0.99
    assert share[1] < 0.05


def test_blurring_lowers_sharpness_and_high_frequency_energy():
    rng = np.random.default_rng(0)
    sharp = rng.integers(0, 256, (SIDE, SIDE, 3), dtype=np.uint8)
    blurred = cv2.GaussianBlur(sharp, (0, 0), 2.0)
    a, b = stats_of(sharp, blurred).itertuples()
    assert b.sharpness < 0.1 * a.sharpness
    assert b.high_frequency < 0.5 * a.high_frequency


def test_jpeg_grid_is_higher_for_a_heavily_compressed_jpeg():
    image = Image.fromarray(smooth(1))
    lossless = decoded(png_bytes(image))
    heavy = decoded(jpeg_bytes(image, quality=5))
    grey = np.stack([cv2.cvtColor(x, cv2.COLOR_RGB2GRAY) for x in (lossless, heavy)])
    png_grid, jpeg_grid_ = jpeg_grid(grey)
    assert png_grid == pytest.approx(1.0, abs=0.2)
    assert jpeg_grid_ > 1.5 * png_grid


def test_background_flatness_is_the_share_of_the_border_near_its_median():
    image = np.full((SIDE, SIDE, 3), 100, np.uint8)
    image[:4, : SIDE // 2] = 200  # half of the top border strip (4 px high)
    border = SIDE * SIDE - (SIDE - 8) ** 2
    assert background_flatness(image[None])[0] == pytest.approx(1 - 4 * SIDE / 2 / border)
    noisy = np.random.default_rng(0).integers(0, 256, (1, SIDE, SIDE, 3), dtype=np.uint8)
    assert background_flatness(noisy)[0] < 0.1


def synthetic_set(root) -> pd.DataFrame:
    """real: sharp photo-like images from large files; drawing: flat shapes; generated: 16-px
    images upsampled (blurry), from small files. Stored as JPEG like the aggregate stage."""
    rng = np.random.default_rng(0)
    (root / "images").mkdir()
    rows = []
    for k in range(PER_CLASS * len(CLASSES)):
        label = CLASSES[k % len(CLASSES)]
        if label == "real":
            pixels = np.clip(
                smooth(k).astype(int) + rng.normal(0, 25, (SIDE, SIDE, 3)), 0, 255
            ).astype(np.uint8)
            side = int(rng.integers(400, 1200))
        elif label == "drawing":
            pixels = np.full((SIDE, SIDE, 3), rng.integers(0, 256, 3), np.uint8)
            cv2.circle(pixels, (32, 32), 20, tuple(int(v) for v in rng.integers(0, 256, 3)), -1)
            side = int(rng.integers(200, 600))
        else:
            small = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
            pixels = cv2.resize(small, (SIDE, SIDE), interpolation=cv2.INTER_LINEAR)
            side = 64
        name = f"img-{k:03d}"
        (root / "images" / f"{name}.jpg").write_bytes(jpeg_bytes(Image.fromarray(pixels), 90))
        rows.append({"id": name, "label": label, "orig_width": side, "orig_height": side + 10})
    return pd.DataFrame(rows)


def test_content_audit_finds_the_shortcuts_far_above_chance(tmp_path):
    index = synthetic_set(tmp_path)
    result = content_audit(index, tmp_path / "images", seed=0, folds=5)
    assert result["chance"] == pytest.approx(1 / 3, abs=1e-3)
    assert set(result["per_statistic"]) == set(STATISTICS)
    assert result["all"] >= 0.9
    assert result["without_native_resolution"] >= 0.9
    assert result["per_statistic"]["sharpness"] >= 0.8
    assert "augmented" not in result


def test_content_audit_after_augmentation_is_deterministic(tmp_path):
    index = synthetic_set(tmp_path)
    cfg = AugmentConfig(crop_p=0.5, rescale_p=0.5, blur_p=0.5, jpeg_p=0.5)
    first = content_audit(index, tmp_path / "images", seed=0, folds=3, augment_cfg=cfg)
    again = content_audit(index, tmp_path / "images", seed=0, folds=3, augment_cfg=cfg)
    assert first == again
    assert set(first["augmented"]["per_statistic"]) == set(PIXEL_STATISTICS)
    assert all(0 <= v <= 1 for v in first["augmented"]["per_statistic"].values())


@pytest.mark.parametrize("with_augmented", [False, True])
def test_plot_content_audit_writes_a_png(tmp_path, with_augmented):
    per = dict.fromkeys(STATISTICS, 0.5)
    result = {"all": 0.9, "per_statistic": per, "without_native_resolution": 0.8, "chance": 0.3333}
    if with_augmented:
        result["augmented"] = {"all": 0.6, "per_statistic": dict.fromkeys(PIXEL_STATISTICS, 0.4)}
    path = tmp_path / "figures" / "content_audit.png"
    plot_content_audit(result, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
