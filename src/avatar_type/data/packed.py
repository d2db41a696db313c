"""Packed image sets: one (N, H, W, 3) uint8 .npy (memory-mapped) beside an index.csv.

Training and evaluation read pixels from here instead of decoding thousands of files each epoch,
and DVC tracks two files per stage instead of one per image.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from avatar_type.errors import InputError, MissingInputError

IMAGES = "images.npy"
INDEX = "index.csv"


def create(out_dir: Path, count: int, size: int) -> np.memmap:
    """A writable memory-mapped array for ``count`` images of ``size`` x ``size``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    return np.lib.format.open_memmap(
        out_dir / IMAGES, mode="w+", dtype=np.uint8, shape=(count, size, size, 3)
    )


def load(pack_dir: Path) -> tuple[np.ndarray, pd.DataFrame]:
    """The read-only image array and its index (row i of the index is image i)."""
    pack_dir = Path(pack_dir)
    for name in (IMAGES, INDEX):
        if not (pack_dir / name).is_file():
            raise MissingInputError(f"{pack_dir / name}: missing; run the stage that writes it")
    images = np.load(pack_dir / IMAGES, mmap_mode="r")
    index = pd.read_csv(pack_dir / INDEX, keep_default_na=False)
    if len(index) != len(images):
        raise InputError(f"{pack_dir}: index has {len(index)} rows but {len(images)} images")
    return images, index
