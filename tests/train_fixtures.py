"""Fixtures for the training tests: a tiny synthetic pack whose class shows in the pixels.

``tiny_data`` writes 90 images of 32 x 32 px (50 drawing, 20 real, 20 generated: imbalanced like
the study's scenarios) into a pack with its index.csv and a split CSV with train and val rows.
Each class has its own colour cast and stripe direction under per-pixel noise, so even a small net
learns it in a few epochs. Caches go to a temporary folder (AVATAR_TYPE_LOCAL_CACHE) and the
working directory is the test's tmp_path, so no test writes into the repository.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from avatar_type.data import packed
from avatar_type.data.preprocessing import write_preprocessing
from avatar_type.labels import CLASSES
from avatar_type.train.loop import Runtime

SIZE = 32
COUNTS = {"drawing": 50, "real": 20, "generated": 20}  # 90 images
VAL_SHARE = 0.3
COLOURS = {"real": (190, 70, 60), "drawing": (60, 180, 70), "generated": (70, 80, 200)}

# what a pack's preprocessing.json holds (the denoise stage writes the real one)
TEST_PREPROCESSING = {
    "aggregate": {"size": 32, "jpeg_quality": 90},
    "denoise": {"enabled": False, "tolerance": 30},
}


def synthetic_image(label: str, rng: np.random.Generator, size: int = SIZE) -> np.ndarray:
    """A (size, size, 3) uint8 image: class colour, class stripe direction, noise."""
    ramp = (np.arange(size) // 4 % 2).astype(np.float32) * 40 - 20
    if label == "real":
        pattern = np.broadcast_to(ramp[:, None], (size, size))  # horizontal stripes
    elif label == "drawing":
        pattern = np.broadcast_to(ramp[None, :], (size, size))  # vertical stripes
    else:
        pattern = ramp[:, None] * ramp[None, :] / 20  # checkerboard
    base = np.array(COLOURS[label], dtype=np.float32)
    image = base + pattern[..., None] + rng.normal(0, 25, size=(size, size, 3))
    return image.round().clip(0, 255).astype(np.uint8)


def write_pack(
    root: Path, counts: dict[str, int] | None = None, size: int = SIZE, seed: int = 0
) -> tuple[Path, pd.DataFrame]:
    """A pack in ``root`` (images.npy + index.csv); returns its folder and index."""
    counts = counts or COUNTS
    rng = np.random.default_rng(seed)
    labels = [label for label, n in counts.items() for _ in range(n)]
    images = packed.create(root, len(labels), size)
    rows = []
    for i, label in enumerate(labels):
        images[i] = synthetic_image(label, rng, size)
        rows.append({"id": f"img-{i:04d}", "label": label, "source": f"synthetic-{label}"})
    images.flush()
    del images
    index = pd.DataFrame(rows)
    index.to_csv(root / packed.INDEX, index=False)
    write_preprocessing(root, TEST_PREPROCESSING)
    return root, index


def write_split(index: pd.DataFrame, path: Path, val_share: float = VAL_SHARE) -> Path:
    """A split CSV (id,label,unit,split): per class, the first ``val_share`` go to val."""
    rows = []
    for label, group in index.groupby("label", sort=False):
        n_val = round(len(group) * val_share)
        for j, image_id in enumerate(group["id"]):
            split = "val" if j < n_val else "train"
            rows.append({"id": image_id, "label": label, "unit": f"d:{image_id}", "split": split})
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@dataclass(frozen=True)
class TinyData:
    pack: Path
    split: Path
    index: pd.DataFrame
    root: Path  # tmp_path

    def runtime(self, name: str, seed: int = 42) -> Runtime:
        run = self.root / "runs" / name
        return Runtime(
            device=torch.device("cpu"),
            amp=False,
            channels_last=False,
            model_dir=run / "model",
            metrics_file=run / "metrics.json",
            live_dir=run / "live",
            checkpoint_dir=run / "checkpoints",
            seed=seed,
        )

    def split_frame(self) -> pd.DataFrame:
        return pd.read_csv(self.split, keep_default_na=False)

    def train_counts(self) -> list[int]:
        split = self.split_frame()
        train = split[split["split"] == "train"]
        return [int((train["label"] == c).sum()) for c in CLASSES]


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """Caches in tmp_path, cwd = tmp_path, no telemetry; restores torch's determinism flag."""
    monkeypatch.setenv("AVATAR_TYPE_LOCAL_CACHE", str(tmp_path / "local-cache"))
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.chdir(tmp_path)
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    yield tmp_path
    torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)


@pytest.fixture
def tiny_data(isolated) -> TinyData:
    pack, index = write_pack(isolated / "pack")
    split = write_split(index, isolated / "split.csv")
    return TinyData(pack=pack, split=split, index=index, root=isolated)


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))
