"""The study's own networks, registered with timm so they are names like any other.

- ``simple_cnn``: SimpleCnn of the Simpsons seed (five unpadded conv blocks, FC 256).
- ``mid_cnn``: MidCnn of the same seed (padding, BatchNorm1d in the head, dropout 0.5).
- ``detector_cnn``: the 4-block CNN with a 2-layer classifier of the AI-image detector seed.
- ``xception_resnet50``: XceptionResNet50 of the deepfake seed: ResNet-50's bottleneck layout
  (3/4/6/3 blocks, 256-2048 channels) built from depthwise-separable convolutions
  (13,679,746 parameters for 2 classes).

Every net follows timm's interface: ``forward_features`` (the trunk), ``forward_head(x,
pre_logits=True)`` (the penultimate embedding), ``get_classifier``/``reset_classifier`` and
``num_features``, so training modes, feature caching and Grad-CAM treat them like timm models.
"""

from __future__ import annotations

import itertools

import torch
from timm.models import register_model
from torch import nn


def _conv_block(cin: int, cout: int, padding: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=padding, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )


class _TimmLike(nn.Module):
    """Shared head plumbing; subclasses set features, pre_head, head and num_features."""

    features: nn.Module
    pre_head: nn.Module
    head: nn.Module
    num_features: int
    default_cfg = {  # noqa: RUF012  (read by timm.data.resolve_data_config)
        "input_size": (3, 224, 224),
        "interpolation": "bilinear",
        "mean": (0.485, 0.456, 0.406),
        "std": (0.229, 0.224, 0.225),
        "crop_pct": 1.0,
        "classifier": "head",
    }
    pretrained_cfg = default_cfg

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def group_matcher(self, coarse: bool = False) -> dict:
        """Parameter groups in depth order, as timm defines them (used by partial unfreezing)."""
        return {
            "stem": r"^features\.0\.",
            "blocks": [(r"^features\.(\d+)", None), (r"^pre_head", (99999,))],
        }

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.pre_head(x)
        return x if pre_logits else self.head(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def get_classifier(self) -> nn.Module:
        return self.head

    def reset_classifier(self, num_classes: int, **_: object) -> None:
        self.head = nn.Linear(self.num_features, num_classes) if num_classes else nn.Identity()


class _FiveBlockCnn(_TimmLike):
    """Conv 3-8-16-32-64-96, each with BN, ReLU and 2x2 max-pool, then FC 256 (Simpsons seed)."""

    def __init__(
        self, num_classes: int, in_chans: int, drop_rate: float, padding: int, head_norm: bool
    ) -> None:
        super().__init__()
        widths = [in_chans, 8, 16, 32, 64, 96]
        self.features = nn.Sequential(
            *(_conv_block(a, b, padding=padding) for a, b in itertools.pairwise(widths))
        )
        # 96x5x5 at 224 px (unpadded) as in the study; other sizes pool to the same 5x5 grid
        self.pre_head = nn.Sequential(
            nn.AdaptiveAvgPool2d(5),
            nn.Flatten(),
            nn.Linear(96 * 25, 256),
            *([nn.BatchNorm1d(256)] if head_norm else []),
            nn.ReLU(inplace=True),
            nn.Dropout(drop_rate),
        )
        self.num_features = 256
        self.head = nn.Linear(256, num_classes) if num_classes else nn.Identity()


class SimpleCnn(_FiveBlockCnn):
    """Unpadded convolutions (needs at least 94 px), no dropout by default."""

    def __init__(self, num_classes: int = 3, in_chans: int = 3, drop_rate: float = 0.0) -> None:
        super().__init__(num_classes, in_chans, drop_rate, padding=0, head_norm=False)


class MidCnn(_FiveBlockCnn):
    """SimpleCnn with padded convolutions, BatchNorm1d in the head and dropout 0.5."""

    def __init__(self, num_classes: int = 3, in_chans: int = 3, drop_rate: float = 0.5) -> None:
        super().__init__(num_classes, in_chans, drop_rate, padding=1, head_norm=True)


class DetectorCnn(_TimmLike):
    """Four conv blocks (32-64-128-256) and a two-layer classifier (AI-image detector seed)."""

    def __init__(self, num_classes: int = 3, in_chans: int = 3, drop_rate: float = 0.3) -> None:
        super().__init__()
        widths = [in_chans, 32, 64, 128, 256]
        self.features = nn.Sequential(
            *(_conv_block(a, b, padding=1) for a, b in itertools.pairwise(widths))
        )
        self.pre_head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(256, 128),
            nn.ReLU(inplace=True),
            nn.Dropout(drop_rate),
        )
        self.num_features = 128
        self.head = nn.Linear(128, num_classes) if num_classes else nn.Identity()


class DepthwiseSeparableConv(nn.Sequential):
    """Depthwise 3x3 (groups = channels), BN, ReLU, pointwise 1x1, BN."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__(
            nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False),
            nn.BatchNorm2d(cin),
            nn.ReLU(inplace=True),
            nn.Conv2d(cin, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        )


class XceptionResNetBlock(nn.Module):
    """A ResNet bottleneck (mid = out // 4) made of three depthwise-separable convolutions."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        mid = cout // 4
        self.conv1 = DepthwiseSeparableConv(cin, mid, stride)
        self.conv2 = DepthwiseSeparableConv(mid, mid)
        self.conv3 = DepthwiseSeparableConv(mid, cout)
        self.act = nn.ReLU(inplace=True)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv3(self.act(self.conv2(self.act(self.conv1(x)))))
        return self.act(y + self.shortcut(x))


class XceptionResNet50(_TimmLike):
    """Stem 7x7/2 + max-pool, then 3/4/6/3 blocks of 256/512/1024/2048 channels, global pool."""

    def __init__(self, num_classes: int = 3, in_chans: int = 3, drop_rate: float = 0.0) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.Conv2d(in_chans, 64, 7, 2, 3, bias=False),
            nn.BatchNorm2d(64),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2, 1),
        ]
        cin = 64
        for cout, blocks, stride in ((256, 3, 1), (512, 4, 2), (1024, 6, 2), (2048, 3, 2)):
            stage = [
                XceptionResNetBlock(cin if i == 0 else cout, cout, stride if i == 0 else 1)
                for i in range(blocks)
            ]
            layers.append(nn.Sequential(*stage))
            cin = cout
        self.features = nn.Sequential(*layers)
        self.pre_head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(drop_rate))
        self.num_features = 2048
        self.head = nn.Linear(2048, num_classes) if num_classes else nn.Identity()


def _build(cls: type[_TimmLike], pretrained: bool, kwargs: dict) -> _TimmLike:
    if pretrained:
        raise ValueError(f"{cls.__name__} has no pretrained weights; use weights: none")
    kwargs = {k: v for k, v in kwargs.items() if k in ("num_classes", "in_chans", "drop_rate")}
    return cls(**kwargs)


@register_model
def simple_cnn(pretrained: bool = False, **kwargs) -> SimpleCnn:
    return _build(SimpleCnn, pretrained, kwargs)


@register_model
def mid_cnn(pretrained: bool = False, **kwargs) -> MidCnn:
    return _build(MidCnn, pretrained, kwargs)


@register_model
def detector_cnn(pretrained: bool = False, **kwargs) -> DetectorCnn:
    return _build(DetectorCnn, pretrained, kwargs)


@register_model
def xception_resnet50(pretrained: bool = False, **kwargs) -> XceptionResNet50:
    return _build(XceptionResNet50, pretrained, kwargs)
