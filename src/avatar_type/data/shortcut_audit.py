"""Can file metadata alone predict the label? Then a model can cheat; normalised files must not.

A random forest sees only metadata (format, width, height, file size, JPEG quality, alpha) and is
scored by cross-validated balanced accuracy: chance is 1/K for K classes.

For normalised files the container metadata (everything but the size in bytes) is audited on its
own: file size, under one encoder and one setting, is a function of the pixels (flat drawings
compress better than photos), so it measures content complexity, not a pipeline shortcut, and
is reported separately.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from avatar_type.data.decode import estimate_jpeg_quality

ALL = ("format", "width", "height", "file_size", "jpeg_quality", "has_alpha")
CONTAINER = ("format", "width", "height", "jpeg_quality", "has_alpha")


def metadata_features(meta: pd.DataFrame, columns: tuple[str, ...] = ALL) -> pd.DataFrame:
    """Numeric columns plus a one-hot ``format`` (when asked for)."""
    numeric = meta[[c for c in columns if c != "format"]].astype(float).reset_index(drop=True)
    if "format" not in columns:
        return numeric
    formats = pd.get_dummies(meta["format"].astype(str), prefix="format", dtype=float)
    return pd.concat([numeric, formats.reset_index(drop=True)], axis=1)


def audit(
    meta: pd.DataFrame, labels: pd.Series, seed: int, folds: int = 5, columns: tuple[str, ...] = ALL
) -> float:
    """Cross-validated balanced accuracy of a classifier that sees only ``columns``."""
    y = labels.to_numpy()
    _, counts = np.unique(y, return_counts=True)
    folds = int(min(folds, counts.min()))
    if folds < 2:
        raise ValueError("shortcut audit needs at least 2 images of every class")
    model = RandomForestClassifier(
        n_estimators=200, min_samples_leaf=2, random_state=seed, class_weight="balanced", n_jobs=1
    )
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    pred = cross_val_predict(model, metadata_features(meta, columns), y, cv=cv)
    return float(balanced_accuracy_score(y, pred))


def original_metadata(index: pd.DataFrame) -> pd.DataFrame:
    """The metadata of the files as they came in."""
    return pd.DataFrame(
        {
            "format": index["orig_format"],
            "width": index["orig_width"],
            "height": index["orig_height"],
            "file_size": index["orig_file_size"],
            "jpeg_quality": index["orig_jpeg_quality"],
            "has_alpha": index["orig_has_alpha"],
        }
    )


def file_metadata(paths: list[Path]) -> pd.DataFrame:
    """Metadata read back from files on disk (headers only, no full decode)."""
    rows = []
    for path in paths:
        with Image.open(path) as image:
            rows.append(
                {
                    "format": image.format,
                    "width": image.width,
                    "height": image.height,
                    "file_size": path.stat().st_size,
                    "has_alpha": "A" in image.getbands(),
                    "jpeg_quality": estimate_jpeg_quality(image) if image.format == "JPEG" else -1,
                }
            )
    return pd.DataFrame(rows)
