"""Penultimate features of a frozen backbone, computed once per image and cached.

Frozen and linear-probe training reuse them across every scenario (the images are the same, only
the split differs), so a backbone's forward pass over the data set runs once, not once per
scenario.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from avatar_type.train.data import Normalise, file_identity, local_cache


@torch.inference_mode()
def embed(
    model: nn.Module,
    images: np.ndarray,
    normalise: Normalise,
    device: torch.device,
    batch_size: int = 64,
    desc: str = "features",
) -> np.ndarray:
    """(N, D) float32 penultimate features of every image of a uint8 NHWC array."""
    model.eval().to(device)
    normalise = normalise.to(device)
    out = []
    for start in tqdm(range(0, len(images), batch_size), desc=desc, unit="batch", mininterval=2):
        batch = torch.from_numpy(np.ascontiguousarray(images[start : start + batch_size]))
        x = normalise(batch.to(device))
        out.append(model.forward_head(model.forward_features(x), pre_logits=True).float().cpu())
    return torch.cat(out).numpy()


def weights_identity(arch: str, weights: str, seed: int) -> str:
    """What the backbone's weights are, by content where there is a file: the sha256 of a
    weights file or of the converted offline weights; hub weights by timm's pretrained tag (the
    hub versions its files by it); a random initialisation by the seed that drew it."""
    if weights == "none":
        return f"none:{seed}"
    if weights == "imagenet":
        return f"hub:{arch}"
    if weights == "offline":
        from avatar_type.models.offline import offline_weights

        path = offline_weights(arch)  # verified against its sha256 sidecar
        return "sha256:" + path.with_name(path.name + ".sha256").read_text().strip()
    from avatar_type.sources.pinned import sha256_of

    return "sha256:" + sha256_of(Path(weights).expanduser())


def feature_key(arch: str, weights: str, img_size: int, pack_file: Path, seed: int) -> str:
    """Identity of a feature table: backbone, weights (by content), input size and the exact
    pixels (the pack file, which DVC rewrites whenever its content changes)."""
    blob = f"{arch}|{weights_identity(arch, weights, seed)}|{img_size}|{file_identity(pack_file)}"
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def cached_features(key: str, compute) -> np.ndarray:
    """Load features ``key`` from the local cache, or ``compute()`` and store them atomically."""
    target = local_cache("features") / f"{key}.npy"
    if target.is_file():
        return np.load(target)
    features = compute()
    tmp = target.with_suffix(f".{os.getpid()}.tmp.npy")
    np.save(tmp, features)
    os.replace(tmp, target)
    return features
