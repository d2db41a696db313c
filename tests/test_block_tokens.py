"""The all-blocks ViTs (DINOv2, CLIP): their features are every block's normalised class token,
their backbone is the plain ViT's (same tensors, same weight files), and the pipeline's
interfaces hold."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from avatar_type.labels import CLASSES
from avatar_type.models.block_tokens import BACKBONE, BlockTokensViT
from avatar_type.models.registry import build_model

# 2 x 2 patches: every test runs in well under a second
SIZES = {
    "vit_small_patch14_dinov2_allblocks": 28,
    "vit_base_patch16_clip_quickgelu_224_allblocks": 32,
}
assert SIZES.keys() == BACKBONE.keys()


@pytest.fixture(scope="module", params=sorted(SIZES))
def pair(request) -> tuple[nn.Module, nn.Module, int]:
    """The all-blocks model, the plain ViT holding the same backbone tensors, the input size."""
    torch.manual_seed(0)
    name, size = request.param, SIZES[request.param]
    plain = build_model(BACKBONE[name], "none", img_size=size).eval()
    with torch.no_grad():  # DINOv2's layer scale starts at 1e-5: blocks would barely differ
        for key, p in plain.named_parameters():
            if key.endswith("gamma"):
                p.fill_(1.0)
    blocks = build_model(name, "none", img_size=size).eval()
    backbone = {k: v for k, v in plain.state_dict().items() if not k.startswith("head.")}
    missing, unexpected = blocks.load_state_dict(backbone, strict=False)
    assert sorted(missing) == ["head.bias", "head.weight"] and not unexpected
    return blocks, plain, size


def test_features_are_each_blocks_class_token_after_the_final_norm(pair):
    blocks, plain, size = pair
    x = torch.randn(3, 3, size, size)
    with torch.no_grad():
        features = blocks.forward_head(blocks.forward_features(x), pre_logits=True)
        # by hand: run the plain ViT block by block, normalising each class token
        tokens = plain.norm_pre(plain._pos_embed(plain.patch_embed(x)))
        expected = []
        for block in plain.blocks:
            tokens = block(tokens)
            expected.append(plain.norm(tokens)[:, 0])
        last_only = plain.forward_head(plain.forward_features(x), pre_logits=True)
    depth, width = len(plain.blocks), plain.embed_dim
    assert features.shape == (3, depth * width) == (3, blocks.num_features)
    torch.testing.assert_close(features, torch.cat(expected, 1), rtol=1e-5, atol=1e-5)
    # its last slice is exactly what the plain model's frozen modes read
    torch.testing.assert_close(features[:, -width:], last_only, rtol=1e-5, atol=1e-5)
    # and the early blocks add information: they are not copies of the last
    assert not torch.allclose(features[:, :width], features[:, -width:], atol=1e-2)


def test_classifier_reads_every_block_and_trains(pair):
    blocks, _, size = pair
    head = blocks.get_classifier()
    assert isinstance(head, nn.Linear) and head.in_features == blocks.num_features
    assert head.out_features == len(CLASSES)
    blocks.reset_classifier(5)
    assert blocks(torch.randn(2, 3, size, size)).shape == (2, 5)
    blocks.reset_classifier(0)
    assert blocks(torch.randn(2, 3, size, size)).shape == (2, blocks.num_features)
    with pytest.raises(ValueError, match="no global pooling"):
        blocks.reset_classifier(3, global_pool="avg")
    blocks.reset_classifier(len(CLASSES))
    assert isinstance(blocks, BlockTokensViT)
