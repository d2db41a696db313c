"""The denoise stage: read normalised images, optionally filter them, pack them in one array."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from tqdm import tqdm

from avatar_type.data import packed
from avatar_type.data.denoise import coherent_noise_filter
from avatar_type.data.preprocessing import read_preprocessing, write_preprocessing
from avatar_type.sources.pinned import sha256_of


def denoise_set(aggregated: Path, out_dir: Path, enabled: bool, tolerance: int) -> dict:
    """Pack ``aggregated/images/<id>.jpg`` in index order; return the filter's per-label effect.

    The share of changed pixels is measured whether or not the filter is applied, so the
    metric says what switching it on would do to each class.
    """
    index = pd.read_csv(Path(aggregated) / packed.INDEX, keep_default_na=False)
    first = np.asarray(Image.open(Path(aggregated) / "images" / f"{index['id'].iat[0]}.jpg"))
    images = packed.create(Path(out_dir), len(index), first.shape[0])
    changed = np.zeros(len(index))
    for i, image_id in enumerate(tqdm(index["id"], desc="denoise", unit="img", mininterval=2)):
        with Image.open(Path(aggregated) / "images" / f"{image_id}.jpg") as im:
            rgb = np.asarray(im.convert("RGB"))
        filtered, mask = coherent_noise_filter(rgb, tolerance)
        changed[i] = mask.mean()
        images[i] = filtered if enabled else rgb
    images.flush()
    index.to_csv(Path(out_dir) / packed.INDEX, index=False)
    description = read_preprocessing(aggregated)
    description["denoise"] = {"enabled": enabled, "tolerance": tolerance}
    description["pack"] = {
        "images_sha256": sha256_of(Path(out_dir) / packed.IMAGES),
        "count": len(index),
        "size": int(first.shape[0]),
    }
    write_preprocessing(Path(out_dir), description)
    share = pd.Series(changed).groupby(index["label"].to_numpy()).mean()
    return {
        "enabled": enabled,
        "tolerance": tolerance,
        "changed_pixel_share": {label: round(float(v), 6) for label, v in share.items()},
    }
