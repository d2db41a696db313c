"""The metadata-only shortcut audit: a perfect shortcut scores ~1, no information scores ~chance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import blocky, jpeg_bytes, png_bytes
from PIL import Image

from avatar_type.data.shortcut_audit import (
    audit,
    file_metadata,
    metadata_features,
    original_metadata,
)
from avatar_type.labels import CLASSES

PER_CLASS = 12


def labels() -> pd.Series:
    return pd.Series([c for c in CLASSES for _ in range(PER_CLASS)])


def constant_meta(n: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "format": ["JPEG"] * n,
            "width": [224] * n,
            "height": [224] * n,
            "file_size": [10_000] * n,
            "jpeg_quality": [90] * n,
            "has_alpha": [False] * n,
        }
    )


def test_width_shortcut_is_found():
    y = labels()
    meta = constant_meta(len(y))
    meta["width"] = y.map({"real": 640, "drawing": 256, "generated": 1024}).to_numpy()
    assert audit(meta, y, seed=0) >= 0.95


def test_format_shortcut_is_found():
    y = labels()
    meta = constant_meta(len(y))
    meta["format"] = y.map({"real": "JPEG", "drawing": "PNG", "generated": "WEBP"}).to_numpy()
    assert audit(meta, y, seed=0) >= 0.95


def test_constant_metadata_is_at_chance():
    y = labels()
    score = audit(constant_meta(len(y)), y, seed=0)
    assert score <= 0.5  # chance is 1/3 for three classes


def test_random_metadata_is_near_chance():
    y = labels()
    rng = np.random.default_rng(0)
    meta = constant_meta(len(y))
    meta["file_size"] = rng.integers(5_000, 50_000, len(y))
    assert audit(meta, y, seed=0) <= 0.6


def test_audit_needs_two_of_each_class():
    y = pd.Series(["real", "real", "drawing", "drawing", "generated"])
    with pytest.raises(ValueError, match="at least 2"):
        audit(constant_meta(len(y)), y, seed=0)


def test_metadata_features_one_hot():
    meta = constant_meta(3)
    meta["format"] = ["JPEG", "PNG", "JPEG"]
    meta["has_alpha"] = [False, True, False]
    feats = metadata_features(meta)
    assert list(feats["format_JPEG"]) == [1.0, 0.0, 1.0]
    assert list(feats["format_PNG"]) == [0.0, 1.0, 0.0]
    assert list(feats["has_alpha"]) == [0.0, 1.0, 0.0]
    assert all(dtype == np.float64 for dtype in feats.dtypes)


def test_original_metadata_reads_orig_columns():
    index = pd.DataFrame(
        {
            "orig_format": ["PNG"],
            "orig_width": [10],
            "orig_height": [20],
            "orig_file_size": [30],
            "orig_jpeg_quality": [-1],
            "orig_has_alpha": [True],
            "label": ["real"],
        }
    )
    meta = original_metadata(index)
    assert meta.iloc[0].to_dict() == {
        "format": "PNG",
        "width": 10,
        "height": 20,
        "file_size": 30,
        "jpeg_quality": -1,
        "has_alpha": True,
    }


def test_file_metadata_from_headers(tmp_path):
    rgba = np.concatenate([blocky(1, 20, 30), np.full((20, 30, 1), 100, np.uint8)], axis=2)
    (tmp_path / "a.png").write_bytes(png_bytes(Image.fromarray(rgba, "RGBA")))
    (tmp_path / "b.jpg").write_bytes(jpeg_bytes(Image.fromarray(blocky(2, 16, 24)), quality=50))
    meta = file_metadata([tmp_path / "a.png", tmp_path / "b.jpg"])
    a, b = meta.iloc[0], meta.iloc[1]
    assert (a["format"], a["width"], a["height"], a["has_alpha"], a["jpeg_quality"]) == (
        "PNG",
        30,
        20,
        True,
        -1,
    )
    assert (b["format"], b["width"], b["height"], b["has_alpha"]) == ("JPEG", 24, 16, False)
    assert b["jpeg_quality"] == 50  # libjpeg's quality 50 uses its standard table unscaled
    assert a["file_size"] == (tmp_path / "a.png").stat().st_size
