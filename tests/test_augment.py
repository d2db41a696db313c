"""Image-quality augmentation: random resized crop, down-and-up scaling, blur, JPEG, and their
settings. Off, it leaves the augmentation exactly as without it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from avatar_type.errors import ParamsError
from avatar_type.params import from_mapping
from avatar_type.train.augment import AugmentStrength, _recompress, augment
from avatar_type.train.config import AugmentConfig, TrainConfig
from avatar_type.train.data import Normalise
from avatar_type.train.loop import image_transform

NONE = AugmentStrength(jitter=0.0, rotate=0.0, translate=0.0, flip=False)
STRONG = AugmentStrength(jitter=0.3, rotate=30.0, translate=0.15, flip=True)
OPS = ("crop_p", "rescale_p", "blur_p", "jpeg_p")


def sharp_batch(n: int = 8, side: int = 64) -> torch.Tensor:
    """Flat tiles plus pixel noise: edges and fine texture for every op to remove."""
    rng = np.random.default_rng(0)
    tiles = rng.integers(0, 256, (n, 3, 8, 8)).repeat(side // 8, 2).repeat(side // 8, 3)
    noise = rng.normal(0, 20, (n, 3, side, side))
    return torch.from_numpy(np.clip(tiles + noise, 0, 255)).float()


def hf_share(x: torch.Tensor) -> torch.Tensor:
    """Per image: share of the (non-DC) spectral energy above half the Nyquist frequency."""
    grey = x.mean(1)
    power = torch.fft.fft2(grey - grey.mean((1, 2), keepdim=True)).abs() ** 2
    f = torch.fft.fftfreq(x.shape[-1])
    high = (f.view(-1, 1) ** 2 + f.view(1, -1) ** 2).sqrt() > 0.25
    return (power * high).sum((1, 2)) / power.sum((1, 2))


def laplacian_var(x: torch.Tensor) -> torch.Tensor:
    g = x.mean(1)
    lap = g[:, :-2, 1:-1] + g[:, 2:, 1:-1] + g[:, 1:-1, :-2] + g[:, 1:-1, 2:] - 4 * g[:, 1:-1, 1:-1]
    return lap.var((1, 2))


def run(x: torch.Tensor, cfg: AugmentConfig | None, seed: int = 3, strength=NONE) -> torch.Tensor:
    return augment(x, [strength] * len(x), torch.Generator().manual_seed(seed), cfg)


def test_all_ops_off_is_bit_identical_to_no_quality_augmentation():
    x = sharp_batch()
    off = AugmentConfig(crop_scale_min=0.3, rescale_min=0.5, blur_sigma_max=2.0, jpeg_quality_min=5)
    assert torch.equal(run(x, off, strength=STRONG), run(x, None, strength=STRONG))


@pytest.mark.parametrize("op", OPS)
def test_each_op_on_changes_images_and_keeps_shape_dtype_range(op):
    x = sharp_batch()
    out = run(x, AugmentConfig(**{op: 1.0}))
    assert out.shape == x.shape and out.dtype == x.dtype
    assert out.min() >= 0 and out.max() <= 255
    change = (out - x).abs().mean((1, 2, 3))
    assert change.mean() > 1 and (change > 0.1).sum() >= len(x) // 2  # blur can draw sigma ~0.1


def test_only_the_picked_samples_change():
    x = sharp_batch(32)
    out = run(x, AugmentConfig(blur_p=0.5, jpeg_p=0.5))
    changed = [(out[i] - x[i]).abs().mean() > 1e-3 for i in range(len(x))]
    assert 4 < sum(changed) < 32  # P(blur or jpeg) = 0.75


def test_deterministic_given_the_generator_seed():
    x = sharp_batch()
    cfg = AugmentConfig(crop_p=0.5, rescale_p=0.5, blur_p=0.5, jpeg_p=0.5)
    a, b, c = (run(x, cfg, seed, STRONG) for seed in (1, 1, 2))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_recompress_removes_high_frequencies_more_at_low_quality():
    x = sharp_batch(4)
    hf = {q: hf_share(_recompress(x, [q] * len(x))) for q in (10, 50, 95)}
    assert (hf[10] < hf[50]).all() and (hf[50] < hf[95]).all()
    assert (hf[10] < 0.8 * hf_share(x)).all()  # block edges add some back: not all is gone


def test_rescale_and_blur_lower_sharpness():
    x = sharp_batch()
    sharp = laplacian_var(x)
    assert (laplacian_var(run(x, AugmentConfig(blur_p=1.0, blur_sigma_max=2.0))) < sharp).all()
    small = run(x, AugmentConfig(rescale_p=1.0, rescale_min=0.25))
    assert (hf_share(small) < hf_share(x)).all()


def test_blur_strength_grows_with_sigma():
    x = sharp_batch()
    weak, strong = (
        laplacian_var(run(x, AugmentConfig(blur_p=1.0, blur_sigma_max=s))).mean() for s in (0.5, 4)
    )
    assert strong < weak


def test_crop_magnifies():
    x = torch.zeros(4, 3, 64, 64)
    x[:, :, 28:36, 28:36] = 255  # a central square grows when a centred crop is zoomed in
    out = run(x, AugmentConfig(crop_p=1.0, crop_scale_min=0.25))
    assert ((out > 127).float().mean((1, 2, 3)) >= (x > 127).float().mean((1, 2, 3))).all()


def test_training_transform_applies_the_config():
    cfg = TrainConfig(arch="simple_cnn", augment=AugmentConfig(flip=False, jitter=0.0, jpeg_p=1.0))
    norm = Normalise((0.0, 0.0, 0.0), (1 / 255, 1 / 255, 1 / 255))
    batch = sharp_batch(4).permute(0, 2, 3, 1).to(torch.uint8)
    y = torch.zeros(4, dtype=torch.long)
    transform = image_transform(cfg, norm, [4, 4, 4], channels_last=False)
    train = transform(batch, y, torch.Generator().manual_seed(0), True)
    plain = transform(batch, y, torch.Generator().manual_seed(0), False)
    assert (train - plain).abs().mean() > 1


@pytest.mark.parametrize(
    ("augment_raw", "named"),
    [
        ({"blur_p": 1.5}, "models.x.augment.blur_p"),
        ({"jpeg_p": -0.1}, "models.x.augment.jpeg_p"),
        ({"crop_p": "often"}, "models.x.augment.crop_p"),
        ({"rescale_p": True}, "models.x.augment.rescale_p"),
        ({"rescale_min": 0.0}, "models.x.augment.rescale_min"),
        ({"crop_scale_min": 1.5}, "models.x.augment.crop_scale_min"),
        ({"blur_sigma_max": 0.0}, "models.x.augment.blur_sigma_max"),
        ({"jpeg_quality_min": 0}, "models.x.augment.jpeg_quality_min"),
        ({"jpeg_quality_min": 50.5}, "models.x.augment.jpeg_quality_min"),
    ],
)
def test_bad_quality_settings_name_the_key(augment_raw, named):
    with pytest.raises(ParamsError, match=named.replace(".", r"\.")):
        from_mapping({"arch": "simple_cnn", "augment": augment_raw}, TrainConfig, "models.x")


def test_validate_checks_a_config_built_in_code():
    cfg = TrainConfig(arch="simple_cnn")
    bad = dataclasses.replace(cfg, augment=AugmentConfig(jpeg_p=2.0))
    with pytest.raises(ParamsError, match=r"m\.augment\.jpeg_p"):
        bad.validate("m")
    cfg.validate("m")
    assert from_mapping({"blur_p": 0.1}, AugmentConfig, "a").blur_p == 0.1
