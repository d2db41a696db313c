"""CoherentNoiseFilter: impulse noise is repaired, every other pixel stays bit-identical."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import jpeg_bytes
from PIL import Image

from avatar_type.data import packed
from avatar_type.data.denoise import coherent_noise_filter, noise_mask
from avatar_type.data.denoise_set import denoise_set
from avatar_type.data.preprocessing import write_preprocessing

TOLERANCE = 30


def smooth_image(height: int = 96, width: int = 96) -> np.ndarray:
    """Gradients whose values all lie in [60, 190], far from the noise bands near 0 and 255."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    r = 60 + 130 * x / (width - 1)
    g = 60 + 130 * y / (height - 1)
    b = 125 + 65 * np.sin(2 * np.pi * (x + y) / (height + width))
    image = np.stack([r, g, b], axis=2).round().astype(np.uint8)
    assert image.min() >= 60 and image.max() <= 190
    return image


def salt_and_pepper(clean: np.ndarray, share: float, seed: int, one_channel: bool = False):
    """Replace ``share`` of the pixels by values in [0, 5] or [250, 255]; return (noisy, mask)."""
    rng = np.random.default_rng(seed)
    h, w, _ = clean.shape
    mask = np.zeros((h, w), dtype=bool)
    mask.flat[rng.choice(h * w, size=int(share * h * w), replace=False)] = True
    noisy = clean.copy()
    ys, xs = np.nonzero(mask)
    salt = rng.random(len(ys)) < 0.5
    values = np.where(salt, rng.integers(250, 256, len(ys)), rng.integers(0, 6, len(ys)))
    if one_channel:
        channels = rng.integers(0, 3, len(ys))
        noisy[ys, xs, channels] = values
    else:
        noisy[ys, xs] = values[:, None]
    return noisy, mask


def test_salt_and_pepper_is_repaired_and_nothing_else_changes():
    clean = smooth_image()
    noisy, truth = salt_and_pepper(clean, 0.05, seed=1)
    out, changed = coherent_noise_filter(noisy, TOLERANCE)
    assert out.dtype == np.uint8 and out.shape == clean.shape
    before = np.abs(noisy[truth].astype(int) - clean[truth].astype(int)).mean()
    after = np.abs(out[truth].astype(int) - clean[truth].astype(int)).mean()
    assert before > 100  # the noise is far from the clean values
    assert after < 0.2 * before  # more than 80 % of the error is gone
    np.testing.assert_array_equal(out[~truth], noisy[~truth])  # bit-identical elsewhere
    assert not changed[~truth].any()
    assert changed[truth].mean() > 0.95
    np.testing.assert_array_equal(changed, (out != noisy).any(axis=2))


def test_noise_in_one_channel_is_caught():
    clean = smooth_image()
    noisy, truth = salt_and_pepper(clean, 0.05, seed=2, one_channel=True)
    assert (noise_mask(noisy, TOLERANCE) == truth).all()  # the channels' masks are combined
    out, changed = coherent_noise_filter(noisy, TOLERANCE)
    np.testing.assert_array_equal(out[~truth], noisy[~truth])
    assert changed[truth].all()  # every speck was extreme in its channel, so it changes
    error = np.abs(out[truth].astype(int) - clean[truth].astype(int))
    assert error.max() <= 12  # all three channels of a speck come from the median


def test_hand_computed_example():
    image = np.full((5, 5, 3), 100, dtype=np.uint8)
    image[2, 2] = (255, 100, 100)  # salt in the red channel only
    image[0, 0] = (0, 0, 0)  # pepper in a corner (border replicated)
    image[4, 1] = (120, 130, 140)  # a normal pixel that differs from its neighbours
    out, changed = coherent_noise_filter(image, TOLERANCE)
    assert tuple(out[2, 2]) == (100, 100, 100)
    assert tuple(out[0, 0]) == (100, 100, 100)
    assert tuple(out[4, 1]) == (120, 130, 140)  # not suspect: left alone
    want = np.zeros((5, 5), dtype=bool)
    want[2, 2] = want[0, 0] = True
    np.testing.assert_array_equal(changed, want)


def test_noise_mask_bands():
    image = np.array(
        [[[30, 100, 100], [31, 100, 100], [100, 225, 100], [100, 224, 100]]], dtype=np.uint8
    )
    np.testing.assert_array_equal(noise_mask(image, 30), [[True, False, True, False]])
    np.testing.assert_array_equal(noise_mask(image, 0), [[False, False, False, False]])


@pytest.mark.parametrize("tolerance", [-1, 128, 300])
def test_bad_tolerance(tolerance):
    with pytest.raises(ValueError, match="tolerance"):
        noise_mask(np.zeros((2, 2, 3), np.uint8), tolerance)


@pytest.mark.parametrize(
    "bad",
    [np.zeros((4, 4), np.uint8), np.zeros((4, 4, 4), np.uint8), np.zeros((4, 4, 3), np.float32)],
)
def test_bad_input_shape_or_type(bad):
    with pytest.raises(ValueError, match="expected an"):
        coherent_noise_filter(bad)


# ------------------------------------------------------------------ the denoise stage


def make_aggregated(folder, images: dict[str, tuple[str, np.ndarray]]):
    (folder / "images").mkdir(parents=True)
    for image_id, (_, pixels) in images.items():
        (folder / "images" / f"{image_id}.jpg").write_bytes(
            jpeg_bytes(Image.fromarray(pixels), quality=100, subsampling=0)
        )
    pd.DataFrame(
        {
            "id": list(images),
            "label": [lab for lab, _ in images.values()],
            "group": ["NA", "", "x"][: len(images)],
        }
    ).to_csv(folder / packed.INDEX, index=False)
    write_preprocessing(folder, {"aggregate": {"size": 32}})


@pytest.mark.parametrize("enabled", [True, False])
def test_denoise_set_packs_in_index_order(tmp_path, enabled):
    grey = np.full((32, 32, 3), 128, dtype=np.uint8)
    salted = grey.copy()
    salted[4:28:6, 4:28:6] = 255  # isolated white specks
    other = smooth_image(32, 32)
    make_aggregated(
        tmp_path / "agg",
        {"b-1": ("real", grey), "a-2": ("drawing", salted), "c-3": ("real", other)},
    )
    result = denoise_set(tmp_path / "agg", tmp_path / "out", enabled, TOLERANCE)
    images, index = packed.load(tmp_path / "out")
    assert list(index["id"]) == ["b-1", "a-2", "c-3"]
    assert list(index["group"]) == ["NA", "", "x"]  # strings survive the round trip
    assert images.shape == (3, 32, 32, 3) and images.dtype == np.uint8
    shares = {}
    for i, image_id in enumerate(index["id"]):
        decoded = np.asarray(Image.open(tmp_path / "agg" / "images" / f"{image_id}.jpg"))
        filtered, mask = coherent_noise_filter(decoded, TOLERANCE)
        np.testing.assert_array_equal(images[i], filtered if enabled else decoded)
        shares.setdefault(index["label"].iat[i], []).append(mask.mean())
    assert result["enabled"] is enabled and result["tolerance"] == TOLERANCE
    want = {label: round(float(np.mean(v)), 6) for label, v in shares.items()}
    assert result["changed_pixel_share"] == pytest.approx(want, abs=1e-6)
    assert result["changed_pixel_share"]["drawing"] > 0  # the specks
    assert result["changed_pixel_share"]["real"] == 0  # nothing extreme in either real image


def test_packed_load_checks(tmp_path):
    with pytest.raises(FileNotFoundError, match=packed.IMAGES):
        packed.load(tmp_path)
    arr = packed.create(tmp_path / "p", 2, 4)
    arr[:] = 7
    arr.flush()
    pd.DataFrame({"id": ["a", "b", "c"]}).to_csv(tmp_path / "p" / packed.INDEX, index=False)
    with pytest.raises(ValueError, match="3 rows but 2 images"):
        packed.load(tmp_path / "p")
    pd.DataFrame({"id": ["a", "b"]}).to_csv(tmp_path / "p" / packed.INDEX, index=False)
    images, index = packed.load(tmp_path / "p")
    assert list(index["id"]) == ["a", "b"]
    assert images.shape == (2, 4, 4, 3) and int(images.sum()) == 7 * 2 * 4 * 4 * 3
    assert not images.flags.writeable
