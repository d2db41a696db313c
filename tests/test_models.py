"""The model registry: every architecture builds, runs forward and backward; weights errors say
what to do; partial unfreezing trains exactly the classifier plus the last backbone groups."""

from __future__ import annotations

import importlib.util

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from avatar_type.errors import WeightsError
from avatar_type.labels import CLASSES
from avatar_type.models.freeze import backbone_groups, head_parameter_names, set_trainable
from avatar_type.models.registry import CUSTOM, build_model, data_config

K = len(CLASSES)

# (arch, smallest input size used here); weights none, batch 2: the whole table runs in seconds
ARCHS = [
    ("simple_cnn", 96),  # five unpadded conv blocks need >= 94 px
    ("mid_cnn", 64),
    ("detector_cnn", 64),
    ("xception_resnet50", 64),
    ("resnet18", 32),
    ("resnet50", 32),
    ("mobilenetv3_small_100", 32),
    ("efficientnet_b0", 32),
    ("convnext_tiny", 32),
    ("vit_small_patch16_224", 32),
    ("vit_base_patch16_224", 32),
    ("mobilenetv2_100", 32),
    ("tf_efficientnet_lite0", 32),
    ("vit_small_patch14_dinov2", 28),
    ("vit_small_patch14_dinov2_allblocks", 28),
    ("vit_base_patch16_clip_quickgelu_224_allblocks", 32),
]


@pytest.mark.parametrize(("arch", "size"), ARCHS, ids=[a for a, _ in ARCHS])
def test_every_architecture_builds_and_trains_one_step(arch, size):
    torch.manual_seed(0)
    model = build_model(arch, "none", img_size=size)
    assert isinstance(model.get_classifier(), nn.Linear)
    assert model.get_classifier().out_features == K
    x = torch.randn(2, 3, size, size)
    model.train()
    logits = model(x)
    assert logits.shape == (2, K)
    assert torch.isfinite(logits).all()
    loss = nn.functional.cross_entropy(logits, torch.tensor([0, 2]))
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing, f"{arch}: parameters without a gradient: {missing[:5]}"
    # the interface feature caching and the frozen modes rely on
    model.eval()
    with torch.no_grad():
        emb = model.forward_head(model.forward_features(x), pre_logits=True)
    assert emb.shape == (2, model.get_classifier().in_features)
    dc = data_config(model)
    assert len(dc["mean"]) == 3 and len(dc["std"]) == 3
    assert backbone_groups(model), f"{arch}: no backbone parameter groups"


def test_xception_resnet50_has_the_seed_parameter_count():
    model = build_model("xception_resnet50", "none", num_classes=2)
    assert sum(p.numel() for p in model.parameters()) == 13_679_746


@pytest.mark.parametrize("arch", CUSTOM)
def test_custom_nets_follow_the_timm_interface(arch):
    model = build_model(arch, "none", num_classes=5)
    assert model.get_classifier().out_features == 5
    model.reset_classifier(2)
    assert model.get_classifier().out_features == 2
    model.reset_classifier(0)
    model.eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 96, 96))
    assert out.shape == (2, model.num_features)


def test_custom_nets_keep_their_documented_dropout():
    def rates(arch):
        return [m.p for m in build_model(arch, "none").modules() if isinstance(m, nn.Dropout)]

    assert rates("mid_cnn") == [0.5]
    assert rates("detector_cnn") == [0.3]


# ------------------------------------------------------------------ weights errors


def test_unknown_architecture_is_a_weights_error():
    with pytest.raises(WeightsError, match="no_such_net"):
        build_model("no_such_net", "none")


def test_custom_net_refuses_pretrained_weights():
    with pytest.raises(WeightsError, match=r"simple_cnn.*weights: none"):
        build_model("simple_cnn", "imagenet")


@pytest.fixture
def hub_offline(tmp_path, monkeypatch):
    """No model-hub access and empty caches, whatever the machine has downloaded before."""
    import huggingface_hub.constants as hf

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hf, "HF_HUB_OFFLINE", True)  # read once at import time
    monkeypatch.setattr(hf, "HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))


def test_imagenet_without_hub_access_says_how_to_supply_a_file(hub_offline):
    if importlib.util.find_spec("avatar_type.models.offline") is None:
        pytest.skip("avatar_type.models.offline is not written yet (the message lists its names)")
    with pytest.raises(WeightsError) as info:
        build_model("resnet18", "imagenet")
    message = str(info.value)
    assert "resnet18" in message
    assert "path" in message and ".safetensors" in message


def test_missing_weights_file_names_file_and_model(tmp_path):
    missing = tmp_path / "nowhere" / "resnet18.safetensors"
    with pytest.raises(WeightsError) as info:
        build_model("resnet18", str(missing))
    assert str(missing) in str(info.value)
    assert "resnet18" in str(info.value)


def test_missing_weights_file_says_how_to_supply_one(tmp_path):
    with pytest.raises(WeightsError) as info:
        build_model("resnet18", str(tmp_path / "resnet18.safetensors"))
    assert ".pth" in str(info.value) and ".safetensors" in str(info.value)


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_corrupt_weights_file_is_a_weights_error(tmp_path, suffix):
    bad = tmp_path / f"broken{suffix}"
    bad.write_bytes(b"not a state dict" * 8)
    with pytest.raises(WeightsError, match="broken"):
        build_model("mobilenetv3_small_100", str(bad))


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_weights_file_loads_backbone_and_resets_the_classifier(tmp_path, suffix):
    torch.manual_seed(1)
    source = build_model("mobilenetv3_small_100", "none", num_classes=1000)
    path = tmp_path / f"weights{suffix}"
    state = {k: v.contiguous() for k, v in source.state_dict().items()}
    if suffix == ".safetensors":
        save_file(state, str(path))
    else:
        torch.save(state, path)
    model = build_model("mobilenetv3_small_100", str(path))
    head = head_parameter_names(model)
    loaded = model.state_dict()
    for name, value in state.items():
        if name not in head:
            assert torch.equal(loaded[name], value), name
    assert model.get_classifier().out_features == K


# ------------------------------------------------------------------ freezing plans


def _grads_after_step(model: nn.Module, size: int) -> set[str]:
    model.train()
    model.zero_grad(set_to_none=True)
    model(torch.randn(2, 3, size, size)).sum().backward()
    return {n for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize(
    ("arch", "size", "last"),
    [("resnet18", 32, 1), ("mobilenetv2_100", 32, 2), ("detector_cnn", 32, 1), ("resnet18", 32, 0)],
)
def test_partial_unfreezing_trains_exactly_head_and_last_groups(arch, size, last):
    model = build_model(arch, "none")
    groups = backbone_groups(model)
    head = head_parameter_names(model)
    expected = set(head).union(*groups[len(groups) - last :]) if last else set(head)
    trainable = set_trainable(model, last)
    assert set(trainable) == expected
    assert {n for n, p in model.named_parameters() if p.requires_grad} == expected
    assert _grads_after_step(model, size) == expected
    # None: everything trains again
    everything = {n for n, _ in model.named_parameters()}
    assert set(set_trainable(model, None)) == everything
    assert _grads_after_step(model, size) == everything


def test_resnet_groups_are_in_depth_order_and_exclude_the_head():
    model = build_model("resnet18", "none")
    groups = backbone_groups(model)
    assert [g[0].split(".")[0] for g in groups] == ["conv1", "layer1", "layer2", "layer3", "layer4"]
    assert all(not n.startswith("fc.") for g in groups for n in g)
    assert head_parameter_names(model) == {"fc.weight", "fc.bias"}
    covered = set(head_parameter_names(model)).union(*groups)
    assert covered == {n for n, _ in model.named_parameters()}
