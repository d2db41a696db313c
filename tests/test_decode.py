"""The bad-input corpus: every file normalises to RGB(A) uint8 or is Rejected with a reason."""

from __future__ import annotations

import io

import numpy as np
import pytest
from helpers import MIN_SIDE, blocky, corpus, jpeg_bytes, png_bytes
from PIL import Image

from avatar_type.data.decode import Rejected, decode, estimate_jpeg_quality

MAX_PIXELS = 40_000_000


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    return folder, corpus(folder)


def test_corpus_has_every_case(bad_inputs):
    _, expect = bad_inputs
    assert {
        "empty.jpg",
        "notes.jpg",
        "truncated.jpg",
        "truncated.png",
        "cmyk.jpg",
        "grey16.png",
        "palette.png",
        "rgba.png",
        "la.png",
        "anim.gif",
        "anim.webp",
        "bomb.png",
        "tiny.png",
        "exif6.jpg",
    } <= set(expect)


def _decode_one(folder, name):
    try:
        return decode(folder / name, MIN_SIDE, MAX_PIXELS), None
    except Rejected as exc:
        return None, exc


@pytest.mark.parametrize(
    "name", ["empty.jpg", "notes.jpg", "truncated.jpg", "truncated.png", "bomb.png", "tiny.png"]
)
def test_rejected_with_reason(bad_inputs, name):
    folder, expect = bad_inputs
    decoded, rejected = _decode_one(folder, name)
    assert decoded is None, f"{name} should be rejected"
    assert expect[name]["reject"] in rejected.reason.lower()
    assert str(rejected) == rejected.reason


@pytest.mark.parametrize(
    "name",
    [
        "cmyk.jpg",
        "grey16.png",
        "palette.png",
        "rgba.png",
        "la.png",
        "anim.gif",
        "anim.webp",
        "exif6.jpg",
        "good1.jpg",
        "good2.png",
    ],
)
def test_normalised(bad_inputs, name):
    folder, expect = bad_inputs
    decoded, rejected = _decode_one(folder, name)
    assert rejected is None, f"{name} rejected: {rejected}"
    want = expect[name]["ok"]
    pixels = decoded.pixels
    assert pixels.dtype == np.uint8 and pixels.ndim == 3
    assert pixels.shape[2] == want["channels"]
    assert decoded.has_alpha == (want["channels"] == 4)
    assert decoded.format == want["format"]
    assert decoded.file_size == (folder / name).stat().st_size
    if "mode" in want:
        assert decoded.mode == want["mode"]
    if "frames" in want:
        assert decoded.frames == want["frames"]
    else:
        assert decoded.frames == 1
    if "rgba" in want:
        np.testing.assert_array_equal(pixels[..., 3], want["rgba"][..., 3])
        opaque = want["rgba"][..., 3] > 0
        np.testing.assert_array_equal(pixels[..., :3][opaque], want["rgba"][..., :3][opaque])
    if "rgb" in want:
        assert pixels.shape == want["rgb"].shape
        error = np.abs(pixels.astype(int) - want["rgb"].astype(int))
        if want["tol"] == 0:
            assert error.max() == 0
        else:
            assert error.mean() <= want["tol"]
    if "wrong" in want:  # the opposite rotation must be clearly worse
        wrong = np.abs(pixels.astype(int) - want["wrong"].astype(int)).mean()
        assert wrong > 5 * want["tol"]


def test_exif_rotation_swaps_dimensions(bad_inputs):
    folder, _ = bad_inputs
    decoded = decode(folder / "exif6.jpg", MIN_SIDE, MAX_PIXELS)
    with Image.open(folder / "exif6.jpg") as image:
        stored_w, stored_h = image.size
    assert (stored_w, stored_h) == (64, 32)
    assert decoded.pixels.shape[:2] == (stored_w, stored_h)  # (H, W) of the shown image
    assert decoded.jpeg_quality >= 90


def test_whole_corpus_never_raises_anything_else(bad_inputs):
    folder, expect = bad_inputs
    for name in expect:
        try:
            decoded = decode(folder / name, MIN_SIDE, MAX_PIXELS)
        except Rejected as exc:
            assert exc.reason
            assert "reject" in expect[name], f"{name} rejected unexpectedly: {exc.reason}"
        else:
            assert "ok" in expect[name], f"{name} should have been rejected"
            assert decoded.pixels.shape[2] in (3, 4)


def test_every_truncation_of_valid_files_is_handled(tmp_path):
    """Cut valid files of several formats at many points: a decode or a Rejected, nothing else."""
    image = Image.fromarray(blocky(7, 40, 40))
    blobs = {"png": png_bytes(image), "jpg": jpeg_bytes(image)}
    for fmt in ("GIF", "WEBP", "BMP", "TIFF"):
        buf = io.BytesIO()
        image.save(buf, format=fmt)
        blobs[fmt.lower()] = buf.getvalue()
    path = tmp_path / "cut"
    for fmt, data in blobs.items():
        for cut in sorted(set(np.linspace(1, len(data) - 1, 25).astype(int))):
            path.write_bytes(data[:cut])
            try:
                decode(path, 8, MAX_PIXELS)
            except Rejected as exc:
                assert exc.reason, f"{fmt} cut at {cut}: empty reason"


def test_decompression_bomb_by_max_pixels(tmp_path):
    path = tmp_path / "a.png"
    path.write_bytes(png_bytes(Image.fromarray(blocky(1, 100, 100))))  # 10 000 pixels
    assert decode(path, 8, 10_000).width == 100  # exactly at the limit is fine
    for limit in (9_999, 6_000, 1_000):  # just over, PIL's warning band, PIL's error band
        with pytest.raises(Rejected, match="decompression bomb"):
            decode(path, 8, limit)


def test_decode_leaves_global_pixel_limit_alone(tmp_path):
    path = tmp_path / "a.png"
    path.write_bytes(png_bytes(Image.fromarray(blocky(1, 32, 32))))
    before = Image.MAX_IMAGE_PIXELS
    decode(path, 8, 5_000)
    assert before == Image.MAX_IMAGE_PIXELS


def test_min_side_applies_to_the_shorter_side(tmp_path):
    path = tmp_path / "strip.png"
    path.write_bytes(png_bytes(Image.fromarray(blocky(2, 23, 200))))
    with pytest.raises(Rejected, match="too small: 200x23"):
        decode(path, 24, MAX_PIXELS)
    assert decode(path, 23, MAX_PIXELS).pixels.shape == (23, 200, 3)


def test_opaque_alpha_is_dropped(tmp_path):
    rgb = blocky(3, 32, 32)
    rgba = np.concatenate([rgb, np.full((32, 32, 1), 255, np.uint8)], axis=2)
    path = tmp_path / "opaque.png"
    path.write_bytes(png_bytes(Image.fromarray(rgba, "RGBA")))
    decoded = decode(path, 8, MAX_PIXELS)
    assert decoded.mode == "RGBA" and not decoded.has_alpha
    np.testing.assert_array_equal(decoded.pixels, rgb)


@pytest.mark.parametrize("quality", [30, 50, 75, 90])
def test_estimate_jpeg_quality(quality):
    image = Image.open(io.BytesIO(jpeg_bytes(Image.fromarray(blocky(4, 32, 32)), quality=quality)))
    # libjpeg scales its standard table by 5000/q (q < 50) or 200 - 2q; rounding costs ~1 step
    assert abs(estimate_jpeg_quality(image) - quality) <= 2
    assert estimate_jpeg_quality(Image.fromarray(blocky(4, 8, 8))) == -1  # no tables


def test_visible_share_counts_pixels_that_are_not_fully_transparent(tmp_path):
    rgba = np.zeros((40, 40, 4), np.uint8)
    rgba[:10, :, 3] = 1  # a quarter of the rows faintly visible
    Image.fromarray(rgba, "RGBA").save(tmp_path / "quarter.png")
    Image.fromarray(np.zeros((40, 40, 4), np.uint8), "RGBA").save(tmp_path / "clear.png")
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(tmp_path / "opaque.png")
    assert decode(tmp_path / "quarter.png", 24, 10**7).visible == 0.25
    assert decode(tmp_path / "clear.png", 24, 10**7).visible == 0.0
    assert decode(tmp_path / "opaque.png", 24, 10**7).visible == 1.0
