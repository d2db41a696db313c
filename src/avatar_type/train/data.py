"""Feeding images to models: packed uint8 arrays per resolution, memory-mapped.

The denoise stage packs every image once at the stored size. A model that trains at a smaller
size gets its own packed copy, made once and kept in a local cache keyed by the source array's
identity, so no epoch ever decodes or resizes an image file.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from tqdm import tqdm

from avatar_type.data import packed
from avatar_type.errors import InputError
from avatar_type.labels import CLASS_TO_INDEX


def local_cache(kind: str) -> Path:
    """A derived-data cache next to the DVC outputs (``AVATAR_TYPE_LOCAL_CACHE`` overrides)."""
    root = Path(os.environ.get("AVATAR_TYPE_LOCAL_CACHE", "data/.cache"))
    path = root / kind
    path.mkdir(parents=True, exist_ok=True)
    return path


def file_identity(path: Path) -> str:
    """Size, modification time and inode: DVC rewrites a file whenever its content changes."""
    st = Path(path).stat()
    return f"{st.st_size}-{st.st_mtime_ns}-{st.st_ino}"


def resize_batch(batch: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 NHWC -> uint8 NHWC at ``size`` (antialiased bilinear, the same for every image)."""
    x = batch.permute(0, 3, 1, 2).float()
    x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1)


def packed_at(pack_dir: Path, size: int) -> tuple[np.ndarray, pd.DataFrame]:
    """The pack of ``pack_dir`` at ``size`` px (memory-mapped), made once per source array."""
    images, index = packed.load(pack_dir)
    if images.shape[1] == size:
        return images, index
    source = Path(pack_dir) / packed.IMAGES
    target = local_cache("packed") / f"{file_identity(source)}-{size}.npy"
    if not target.is_file():
        tmp = target.with_suffix(f".{os.getpid()}.tmp.npy")
        out = np.lib.format.open_memmap(
            tmp, mode="w+", dtype=np.uint8, shape=(len(images), size, size, 3)
        )
        for start in tqdm(range(0, len(images), 256), desc=f"pack {size}px", unit="batch"):
            chunk = torch.from_numpy(np.ascontiguousarray(images[start : start + 256]))
            out[start : start + len(chunk)] = resize_batch(chunk, size).numpy()
        out.flush()
        del out
        os.replace(tmp, target)  # atomic: parallel runs never read a half-written file
    return np.load(target, mmap_mode="r"), index


def row_positions(index: pd.DataFrame) -> pd.Series:
    """Each image id's row in the pack (the one id -> row map of the package)."""
    return pd.Series(np.arange(len(index)), index=index["id"])


def split_rows(
    index: pd.DataFrame, split: pd.DataFrame, name: str
) -> tuple[np.ndarray, np.ndarray]:
    """Row numbers into the pack and class indices of the images in split ``name``."""
    ids = split.loc[split["split"] == name, "id"]
    position = row_positions(index)
    missing = set(ids) - set(position.index)
    if missing:
        raise InputError(
            f"split names {len(missing)} images absent from the pack, e.g. "
            f"{sorted(missing)[0]}; rerun the split stage"
        )
    rows = position.loc[ids].to_numpy()
    labels = index["label"].to_numpy()[rows]
    return rows, np.array([CLASS_TO_INDEX[label] for label in labels], dtype=np.int64)


class Normalise(torch.nn.Module):
    """uint8 NHWC batch -> float NCHW normalised with the model's mean and std."""

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1) * 255.0)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1) * 255.0)

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        return self.nchw(batch.permute(0, 3, 1, 2).float())

    def nchw(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise float NCHW pixels in [0, 255]."""
        return (x - self.mean) / self.std
