"""A model's training settings (one entry of ``models:`` in params.yaml), validated."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from avatar_type.errors import ParamsError
from avatar_type.params import section
from avatar_type.train.imbalance import check_method
from avatar_type.train.modes import mode

SCHEDULERS = ("plateau", "cosine")


@dataclass(frozen=True)
class AugmentConfig:
    flip: bool = True
    jitter: float = 0.1
    rotate: float = 0.0
    translate: float = 0.0
    minority_ratio: float = 0.5  # classes below this share of the largest get strong augmentation
    strong_jitter: float = 0.3
    strong_rotate: float = 30.0
    strong_translate: float = 0.15
    # image-quality nuisances (resolution, blur, compression, framing) that differ between
    # sources: each is applied to a sample with its probability, 0 = off
    crop_p: float = 0.0
    crop_scale_min: float = 0.5  # random resized crop: area share in [min, 1]
    rescale_p: float = 0.0
    rescale_min: float = 0.25  # down-and-up scaling: factor in [min, 1]
    blur_p: float = 0.0
    blur_sigma_max: float = 3.0  # Gaussian blur: sigma in [0.1, max] pixels
    jpeg_p: float = 0.0
    jpeg_quality_min: int = 30  # JPEG re-compression: quality in [min, 95]

    def validate(self, where: str) -> None:
        for key in ("crop_p", "rescale_p", "blur_p", "jpeg_p"):
            _check_range(getattr(self, key), 0.0, 1.0, f"{where}.{key}")
        for key in ("crop_scale_min", "rescale_min"):
            _check_range(getattr(self, key), 1e-3, 1.0, f"{where}.{key}")
        _check_range(self.blur_sigma_max, 0.1, 50.0, f"{where}.blur_sigma_max")
        q = self.jpeg_quality_min
        if isinstance(q, bool) or not isinstance(q, int) or not 1 <= q <= 95:
            raise ParamsError(f"{where}.jpeg_quality_min: expected an integer in [1, 95], got {q}")


def _check_range(value: Any, lo: float, hi: float, where: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise ParamsError(f"{where}: expected a number in [{lo:g}, {hi:g}], got {value!r}")


@dataclass(frozen=True)
class TrainConfig:
    arch: str
    weights: str = "none"
    mode: str = "full"
    img_size: int = 96
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    scheduler: str = "plateau"
    plateau_factor: float = 0.5
    plateau_patience: int = 2
    early_stopping: int = 4  # epochs without a better validation macro-F1
    drop_rate: float | None = None  # None: the architecture's own default
    imbalance: str = "weighted_loss"
    source_balance: float = 0.0  # within a class, weight source s by count(s)^-power (0: off)
    allow_double_correction: bool = False
    logit_tau: float = 1.0
    partial_groups: int = 2  # partial: trainable last backbone groups
    head_epochs: int = 2  # progressive: stage 1 epochs (head only)
    unfreeze_groups: int = 2  # progressive: groups unfrozen in stage 2
    stage2_lr_factor: float = 0.1
    few_shot_per_class: int = 16
    probe_c: float = 1.0
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def validate(self, where: str) -> None:
        spec = mode(self.mode, f"{where}.mode")
        if self.scheduler not in SCHEDULERS:
            raise ParamsError(f"{where}.scheduler: {self.scheduler!r} is not one of {SCHEDULERS}")
        for key in ("img_size", "epochs", "batch_size"):
            if not isinstance(getattr(self, key), int) or getattr(self, key) <= 0:
                raise ParamsError(f"{where}.{key}: must be a positive integer")
        for key in ("lr", "weight_decay", "stage2_lr_factor", "probe_c", "logit_tau"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ParamsError(
                    f"{where}.{key}: expected a non-negative number, got {value!r} "
                    "(YAML reads 1e-3 as text: write 0.001 or 1.0e-3)"
                )
        if not 0 <= self.source_balance <= 1:
            raise ParamsError(f"{where}.source_balance: must be in [0, 1]")
        if self.lr <= 0:
            raise ParamsError(f"{where}.lr: must be positive")
        check_method(self.imbalance, self.allow_double_correction, where)
        self.augment.validate(f"{where}.augment")
        if spec.two_phase and self.head_epochs >= self.epochs:
            raise ParamsError(f"{where}.head_epochs must be smaller than epochs for {self.mode}")

    def fingerprint(self) -> str:
        """A short hash of every setting (checkpoints only resume under the same config)."""
        blob = json.dumps(dataclasses.asdict(self), sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def model_config(params: dict[str, Any], name: str, params_file: str) -> TrainConfig:
    """The validated ``models.<name>`` entry of a params file."""
    return section(params, f"models.{name}", TrainConfig, params_file)
