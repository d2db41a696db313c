"""Penultimate features of the images a model is evaluated on, clean or corrupted.

A frozen backbone (modes ``frozen`` and ``linear_probe``) computes the same features in every
scenario: only its linear head differs. Its features are therefore read from, or written to, the
on-disk feature cache that frozen training fills, and the corrupted balanced-test images (the same
images in every scenario) are embedded once and shared by every scenario's evaluation.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
from torch import nn

from avatar_type.data import packed
from avatar_type.errors import InputError
from avatar_type.evaluate.corruptions import corrupt_all
from avatar_type.evaluate.predict import Outputs, classify
from avatar_type.train.data import Normalise
from avatar_type.train.features import cached_features, embed, feature_key
from avatar_type.train.modes import mode


class FeatureSource:
    """Features of pack rows for one trained model, shared across scenarios where it is frozen."""

    def __init__(
        self,
        model: nn.Module,
        card: dict,
        images: np.ndarray,
        pack_dir: Path,
        seed: int,
        device: torch.device | None = None,
    ) -> None:
        self.model, self.images, self.seed = model, images, seed
        self.device = device or torch.device("cpu")
        pre = card["preprocessing"]
        self.normalise = Normalise(tuple(pre["mean"]), tuple(pre["std"]))
        params = card["params"]
        self.shared_key = (
            feature_key(
                card["arch"],
                params["weights"],
                pre["img_size"],
                Path(pack_dir) / packed.IMAGES,
                seed,
            )
            if mode(params["mode"]).frozen_features
            else None
        )
        self._pack_features: np.ndarray | None = None

    def _embed(self, images: np.ndarray, desc: str) -> np.ndarray:
        return embed(self.model, images, self.normalise, self.device, batch_size=128, desc=desc)

    def clean(self, rows: np.ndarray) -> np.ndarray:
        """(len(rows), D) features of the unaltered images at ``rows`` of the pack."""
        if self.shared_key is None:
            return self._embed(np.asarray(self.images[rows]), "predict")
        if self._pack_features is None:
            features = cached_features(
                self.shared_key, lambda: self._embed(self.images, "pack features")
            )
            self._check_matches(features)
            self._pack_features = features
        return self._pack_features[rows]

    def corrupted(self, rows: np.ndarray, name: str, severity: float) -> np.ndarray:
        """Features of the images at ``rows`` after a deterministic corruption."""

        def compute() -> np.ndarray:
            images = corrupt_all(np.asarray(self.images[rows]), name, severity, self.seed)
            return self._embed(images, f"{name}@{severity:g}")

        if self.shared_key is None:
            return compute()
        digest = hashlib.sha256(np.asarray(rows, dtype=np.int64).tobytes()).hexdigest()[:12]
        return cached_features(
            f"{self.shared_key}-{name}-{severity:g}-{self.seed}-{digest}", compute
        )

    def outputs(self, features: np.ndarray) -> Outputs:
        return Outputs(classify(self.model, features, self.device), features)

    def _check_matches(self, features: np.ndarray, sample: int = 8) -> None:
        """A cached table must be this backbone's: recompute a few rows and compare."""
        fresh = self._embed(np.asarray(self.images[:sample]), "feature check")
        if not np.allclose(fresh, features[:sample], rtol=1e-3, atol=1e-3):
            raise InputError(
                f"cached features {self.shared_key} do not match the trained backbone; "
                "delete data/.cache/features and rerun"
            )
