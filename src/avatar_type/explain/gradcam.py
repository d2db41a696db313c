"""Grad-CAM maps through pytorch-grad-cam: which layer to look at, maps per class, overlays.

CNNs are explained at the feature map their trunk (``forward_features``) returns, the last
spatial map before global pooling; ViTs at the input of their last block's attention
(``blocks[-1].norm1``), with the patch tokens laid back on the patch grid.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import cv2
import numpy as np
import torch
from pytorch_grad_cam import GradCAM
from pytorch_grad_cam.utils.image import show_cam_on_image
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from timm.models.vision_transformer import VisionTransformer
from torch import nn

from avatar_type.train.data import Normalise, resize_batch


@dataclass(frozen=True)
class CamTarget:
    """The layer Grad-CAM hooks and how its output becomes (N, C, H, W) (None: it already is)."""

    layer: nn.Module
    reshape_transform: Callable[[torch.Tensor], torch.Tensor] | None = None


def target_layer(model: nn.Module, img_size: int) -> CamTarget:
    """The Grad-CAM layer of ``model`` for square inputs of ``img_size`` px."""
    if isinstance(model, VisionTransformer):
        ph, pw = model.patch_embed.patch_size
        grid = (img_size // ph, img_size // pw)
        transform = partial(_tokens_to_map, prefix=model.num_prefix_tokens, grid=grid)
        return CamTarget(model.blocks[-1].norm1, transform)
    return CamTarget(_feature_map_module(model, img_size))


def _tokens_to_map(tokens: torch.Tensor, prefix: int, grid: tuple[int, int]) -> torch.Tensor:
    """(N, prefix + H*W, C) -> (N, C, H, W): class and register tokens have no place on the grid."""
    n, count, channels = tokens.shape
    if count != prefix + grid[0] * grid[1]:
        raise ValueError(
            f"{count} tokens do not make {prefix} prefix tokens and a {grid[0]}x{grid[1]} grid: "
            "is the input at the model's img_size?"
        )
    return tokens[:, prefix:].reshape(n, *grid, channels).permute(0, 3, 1, 2)


def _feature_map_module(model: nn.Module, img_size: int) -> nn.Module:
    """The module that last returns the tensor ``forward_features`` returns, found by hooks.

    The last one is the outermost (``layer4`` of a ResNet, ``bn2`` of a MobileNet, ``features``
    of our nets), so in-place activations inside it are part of what Grad-CAM sees; timm's
    ``nn.Identity`` placeholders (convnext's ``norm_pre``) pass the map on and are skipped.
    Following ``forward_features`` rather than the last 4-D output keeps heads that convolve
    after pooling (MobileNetV3's ``conv_head`` on a 1x1 map) and pooling layers out. A 1x1
    trunk output (simple_cnn at 96 px) localises nothing: then the last map with more than one
    cell is taken.
    """
    outputs: list[tuple[nn.Module, object]] = []
    hooks = [
        module.register_forward_hook(lambda mod, _, out: outputs.append((mod, out)))
        for module in model.modules()
        if module is not model and not isinstance(module, nn.Identity)
    ]
    was_training = model.training
    try:
        model.eval()  # a dummy batch must not move BatchNorm statistics
        with torch.no_grad():
            device = next(model.parameters()).device
            features = model.forward_features(torch.zeros(1, 3, img_size, img_size, device=device))
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()
    maps = [(m, out) for m, out in outputs if isinstance(out, torch.Tensor) and out.ndim == 4]
    producers = [m for m, out in maps if out is features]
    wider = [m for m, out in maps if out.shape[-2:].numel() > 1]
    if not producers or not wider:
        raise ValueError(
            f"{type(model).__name__} at {img_size} px: forward_features gives no module's "
            f"spatial map (shape {tuple(features.shape)}); give target_layer an explicit entry"
        )
    return producers[-1] if features.shape[-2:].numel() > 1 else wider[-1]


def gradcam_maps(
    model: nn.Module,
    card: dict,
    images: np.ndarray,
    target_classes: np.ndarray | list[int],
    device: str | torch.device = "cpu",
    batch_size: int = 32,
) -> np.ndarray:
    """Grad-CAM of ``target_classes[i]`` on ``images[i]``: float32 (N, H, W) in [0, 1].

    ``images`` is uint8 NHWC at any square size; the model sees them resized to the card's
    ``img_size`` and normalised as the card says, and the maps come back at the images' size.
    The model is moved to ``device``.
    """
    targets = np.asarray(target_classes)
    if len(targets) != len(images):
        raise ValueError(f"{len(images)} images but {len(targets)} target classes")
    pre = card["preprocessing"]
    size = pre["img_size"]
    device = torch.device(device)
    model = model.to(device)
    normalise = Normalise(tuple(pre["mean"]), tuple(pre["std"])).to(device)
    target = target_layer(model, size)
    height, width = images.shape[1:3]
    chunks = [np.zeros((0, height, width), np.float32)]  # no images: an empty (0, H, W)
    with GradCAM(model, [target.layer], target.reshape_transform) as cam:
        for start in range(0, len(images), batch_size):
            batch = torch.from_numpy(np.ascontiguousarray(images[start : start + batch_size]))
            if batch.shape[1:3] != (size, size):
                batch = resize_batch(batch, size)
            # gradients reach the target layer even where the model's weights are frozen
            x = normalise(batch.to(device)).requires_grad_(True)
            wanted = [ClassifierOutputTarget(int(k)) for k in targets[start : start + batch_size]]
            maps = cam(input_tensor=x, targets=wanted)
            if maps.shape[1:] != (height, width):
                maps = np.stack([cv2.resize(m, (width, height)) for m in maps])
            chunks.append(maps.astype(np.float32))
    return np.concatenate(chunks)


def overlay(image: np.ndarray, cam: np.ndarray) -> np.ndarray:
    """uint8 RGB: the heat map of ``cam`` (H, W in [0, 1]) blended over ``image`` (H, W, 3)."""
    if image.shape[:2] != cam.shape:
        raise ValueError(f"image {image.shape[:2]} and map {cam.shape} differ in size")
    return show_cam_on_image(image.astype(np.float32) / 255.0, cam, use_rgb=True)
