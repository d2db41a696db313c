"""Grad-CAM: the layer found per architecture family, maps' size, range and class dependence."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from avatar_type.explain.gradcam import gradcam_maps, overlay, target_layer
from avatar_type.models.registry import CUSTOM, build_model, data_config


def _card(model: torch.nn.Module, size: int) -> dict:
    return {"preprocessing": {"img_size": size, **data_config(model)}}


def _images(n: int, size: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def test_maps_have_the_input_size_and_follow_the_target_class():
    torch.manual_seed(0)
    model = build_model("detector_cnn", "none", num_classes=3)
    images = _images(5, 48)  # the model runs at 32 px; the maps come back at 48
    by_class = [
        gradcam_maps(model, _card(model, 32), images, [k] * 5, batch_size=2) for k in (0, 1)
    ]
    for maps in by_class:
        assert maps.shape == (5, 48, 48) and maps.dtype == np.float32
        assert maps.min() >= 0 and maps.max() <= 1 and maps.max() > 0.5
    assert not np.allclose(*by_class, atol=1e-3)
    shown = overlay(images[0], by_class[0][0])
    assert shown.shape == (48, 48, 3) and shown.dtype == np.uint8
    with pytest.raises(ValueError, match="differ in size"):
        overlay(images[0], by_class[0][0][:32])


@pytest.mark.parametrize(
    ("arch", "prefix", "size"),
    [  # sizes of 4 x 4 patches
        ("vit_small_patch14_dinov2", 1, 56),
        ("vit_small_patch14_reg4_dinov2", 5, 56),
        ("vit_small_patch14_dinov2_allblocks", 1, 56),
        ("vit_base_patch16_clip_quickgelu_224_allblocks", 1, 64),
    ],
)
def test_vit_tokens_return_to_the_patch_grid(arch, prefix, size):
    model = build_model(arch, "none", img_size=size)
    target = target_layer(model, size)
    assert target.layer is model.blocks[-1].norm1
    tokens = torch.arange(2 * (prefix + 16) * 3, dtype=torch.float32).reshape(2, prefix + 16, 3)
    grid = target.reshape_transform(tokens)
    assert grid.shape == (2, 3, 4, 4)
    assert torch.equal(grid[:, :, 0, 1], tokens[:, prefix + 1])  # prefix tokens dropped
    with pytest.raises(ValueError, match="4x4 grid"):
        target.reshape_transform(tokens[:, 1:])


def test_vit_map_has_the_input_size():
    torch.manual_seed(0)
    model = build_model("vit_small_patch14_dinov2", "none", img_size=56)
    maps = gradcam_maps(model, _card(model, 56), _images(2, 56), [0, 2])
    assert maps.shape == (2, 56, 56) and maps.min() >= 0 and maps.max() <= 1


@pytest.mark.parametrize(
    ("arch", "size", "expected"),
    [
        *((name, 96, "features") for name in CUSTOM if name != "simple_cnn"),
        ("simple_cnn", 224, "features"),  # 5 x 5 cells
        ("simple_cnn", 96, "features.4.2"),  # the trunk ends at 1 x 1: its last 2 x 2 map
        ("mobilenetv2_100", 96, "bn2"),
        ("tf_efficientnet_lite0", 96, "bn2"),
        ("resnet18", 96, "layer4"),
        ("mobilenetv3_small_100", 96, "blocks"),  # not conv_head: it convolves the pooled 1x1
    ],
)
def test_cnn_target_is_the_last_spatial_feature_map(arch, size, expected):
    model = build_model(arch, "none")
    target = target_layer(model, size)
    assert target.reshape_transform is None
    assert target.layer is model.get_submodule(expected)
    seen = []
    hook = target.layer.register_forward_hook(lambda _m, _i, out: seen.append(out.shape))
    with torch.no_grad():
        model.eval()(torch.zeros(1, 3, size, size))
    hook.remove()
    assert len(seen) == 1 and len(seen[0]) == 4 and seen[0][2:].numel() > 1
