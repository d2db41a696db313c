"""A ViT whose features are the class tokens of every block, not only of the last.

Synthetic-image detectors built on frozen foundation encoders generalise better to unseen
generators when they read the intermediate blocks too (Koutlis and Papadopoulos, 2024, "Leveraging
Representations from Intermediate Encoder-blocks for Synthetic Image Detection"): the early
blocks keep low-level cues that the last block's class token has abstracted away. Here the
class token of each block, after the encoder's final norm, is concatenated into one feature
vector (12 x 384 = 4,608 values for ViT-S/14), and the classifier reads all of it.

Registered with timm (``vit_small_patch14_dinov2_allblocks``) so that training modes, feature
caching, Grad-CAM (its last block), benchmarks and ONNX export treat it like any timm model; its
backbone tensors are exactly ``vit_small_patch14_dinov2``'s, so the same weight files load.
"""

from __future__ import annotations

import torch
from timm.models import build_model_with_cfg, register_model
from timm.models.vision_transformer import VisionTransformer, checkpoint_filter_fn
from torch import nn

# the backbone whose weights and preprocessing these models share
BACKBONE = {"vit_small_patch14_dinov2_allblocks": "vit_small_patch14_dinov2"}


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


@register_model
def vit_small_patch14_dinov2_allblocks(pretrained: bool = False, **kwargs) -> BlockTokensViT:
    """DINOv2 ViT-S/14 reading the class token of each of its 12 blocks."""
    args = dict(patch_size=14, embed_dim=384, depth=12, num_heads=6, init_values=1e-5)
    return build_model_with_cfg(
        BlockTokensViT,
        BACKBONE["vit_small_patch14_dinov2_allblocks"],
        pretrained,
        pretrained_filter_fn=checkpoint_filter_fn,
        **dict(args, **kwargs),
    )
