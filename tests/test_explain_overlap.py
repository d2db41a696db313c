"""Grad-CAM overlap: IoU of top regions and Pearson r, against hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from avatar_type.explain.overlap import iou, pairwise_overlap, pearson, resize_map, top_region


def test_top_region_keeps_the_requested_share():
    cam = np.arange(100, dtype=float).reshape(10, 10)
    region = top_region(cam, 0.2)
    assert region.sum() == 20 and region[-2:].all() and not region[:-2].any()
    with pytest.raises(ValueError, match="fraction"):
        top_region(cam, 0.0)


def test_iou_of_half_overlapping_regions():
    a = np.zeros((4, 4))
    a[:, :2] = 1  # left half
    b = np.zeros((4, 4))
    b[:2, :] = 1  # top half
    # top 50%: left half vs top half share one quadrant (4 px) of 12 px in the union
    assert iou(a, b, 0.5) == pytest.approx(4 / 12)
    assert iou(a, a * 7 + 3, 0.5) == 1.0  # scale and offset do not matter


def test_pearson_matches_numpy_and_handles_flat_maps():
    rng = np.random.default_rng(0)
    a, b = rng.random((8, 8)), rng.random((8, 8))
    assert pearson(a, b) == pytest.approx(np.corrcoef(a.ravel(), b.ravel())[0, 1])
    assert pearson(a, -a) == pytest.approx(-1.0)
    assert pearson(a, np.ones((8, 8))) == 0.0


def test_pairwise_overlap_is_per_class_and_pair():
    rng = np.random.default_rng(1)
    maps = {m: rng.random((4, 6, 6)) for m in ("a", "b", "c")}
    maps["b"] = maps["a"].copy()
    rows = pairwise_overlap(maps, np.array([0, 0, 2, 2]), ["real", "drawing", "generated"], 0.3)
    assert {(r["class"], r["model_a"], r["model_b"]) for r in rows} == {
        (k, a, b) for k in ("real", "generated") for a, b in (("a", "b"), ("a", "c"), ("b", "c"))
    }
    same = [r for r in rows if (r["model_a"], r["model_b"]) == ("a", "b")]
    assert all(r["iou"] == 1.0 and r["pearson"] == pytest.approx(1.0) for r in same)


def test_maps_are_resized_to_a_common_grid():
    assert resize_map(np.ones((7, 9)), 16).shape == (16, 16)
