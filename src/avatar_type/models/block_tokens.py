"""A ViT whose features are the class tokens of every block, not only of the last.

Synthetic-image detectors built on frozen foundation encoders generalise better to unseen
generators when they read the intermediate blocks too (Koutlis and Papadopoulos, 2024, "Leveraging
Representations from Intermediate Encoder-blocks for Synthetic Image Detection"): the early
blocks keep low-level cues that the last block's class token has abstracted away. Here the
class token of each block, after the encoder's final norm, is concatenated into one feature
vector (12 x 384 = 4,608 values for ViT-S/14), and the classifier reads all of it.

Registered with timm (``vit_small_patch14_dinov2_allblocks``, and
``vit_base_patch16_clip_quickgelu_224_allblocks`` for OpenAI's CLIP ViT-B/16 image tower, UnivFD's
encoder family) so that training modes, feature caching, Grad-CAM (its last block), benchmarks and
ONNX export treat it like any timm model; the backbone tensors are exactly those of the model named
in ``BACKBONE``, so the same weight files load.
"""

from __future__ import annotations

from functools import partial

import torch
from timm.models import build_model_with_cfg, get_pretrained_cfg, register_model
from timm.models.vision_transformer import VisionTransformer, checkpoint_filter_fn
from torch import nn

# the backbone whose weights and preprocessing these models share
BACKBONE = {
    "vit_small_patch14_dinov2_allblocks": "vit_small_patch14_dinov2",
    "vit_base_patch16_clip_quickgelu_224_allblocks": "vit_base_patch16_clip_quickgelu_224",
}


class BlockTokensViT(VisionTransformer):
    """VisionTransformer with ``forward_features`` = the normalised class tokens of all blocks."""

    def __init__(self, *args, num_classes: int = 1000, **kwargs) -> None:
        super().__init__(*args, num_classes=num_classes, **kwargs)
        self.num_features = self.head_hidden_size = self.embed_dim * len(self.blocks)
        self.reset_classifier(num_classes)

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        if global_pool is not None:
            raise ValueError("BlockTokensViT reads class tokens; it has no global pooling")
        self.num_classes = num_classes
        self.head = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        _, per_block = self.forward_intermediates(
            x, indices=len(self.blocks), return_prefix_tokens=True, norm=True, output_fmt="NLC"
        )
        return torch.cat([prefix[:, 0] for _, prefix in per_block], dim=1)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.head_drop(x)
        return x if pre_logits else self.head(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


def _build(name: str, pretrained: bool, args: dict, **kwargs) -> BlockTokensViT:
    return build_model_with_cfg(
        BlockTokensViT,
        BACKBONE[name],
        pretrained,
        pretrained_filter_fn=checkpoint_filter_fn,
        **dict(args, **kwargs),
    )


@register_model
def vit_small_patch14_dinov2_allblocks(pretrained: bool = False, **kwargs) -> BlockTokensViT:
    """DINOv2 ViT-S/14 reading the class token of each of its 12 blocks."""
    args = dict(patch_size=14, embed_dim=384, depth=12, num_heads=6, init_values=1e-5)
    return _build("vit_small_patch14_dinov2_allblocks", pretrained, args, **kwargs)


@register_model
def vit_base_patch16_clip_quickgelu_224_allblocks(
    pretrained: bool = False, **kwargs
) -> BlockTokensViT:
    """OpenAI CLIP ViT-B/16 image tower reading the class token of each of its 12 blocks."""
    args = dict(
        patch_size=16,
        embed_dim=768,
        depth=12,
        num_heads=12,
        pre_norm=True,
        norm_layer=partial(nn.LayerNorm, eps=1e-5),
        act_layer="quick_gelu",
    )
    # timm's default tag for this tower is MetaCLIP (CC BY-NC); hub users get OpenAI's weights
    name = "vit_base_patch16_clip_quickgelu_224_allblocks"
    if kwargs.get("pretrained_cfg") is None:  # timm.create_model passes None when not given
        kwargs["pretrained_cfg"] = get_pretrained_cfg(f"{BACKBONE[name]}.openai")
    return _build(name, pretrained, args, **kwargs)
