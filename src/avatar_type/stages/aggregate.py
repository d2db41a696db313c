"""The aggregate stage: decode, validate, normalise and deduplicate every fetched source; audit
the shortcuts that could tell the classes apart."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import pandas as pd

from avatar_type.data.aggregate import AggregateConfig, aggregate, missing_sources
from avatar_type.data.shortcut_audit import (
    CONTAINER,
    audit,
    content_audit,
    file_metadata,
    original_metadata,
)
from avatar_type.labels import CLASSES, is_ood, ood_set
from avatar_type.params import section
from avatar_type.runner import write_json
from avatar_type.train.config import AugmentConfig
from avatar_type.viz.data_plots import (
    contact_sheets,
    plot_content_audit,
    plot_source_counts,
    source_counts,
)

PLOTS = Path("plots/aggregate")


@dataclass(frozen=True, kw_only=True)
class AggregateSettings(AggregateConfig):
    """The ``aggregate:`` section of params.yaml: the images' settings and the audits'."""

    audit_folds: int
    contact_sheet_images: int  # per class
    audit_augment: AugmentConfig | None  # the augmentation audited against the shortcuts

    def images(self) -> AggregateConfig:
        """The settings the images are made with, and that the index records."""
        return AggregateConfig(**{f.name: getattr(self, f.name) for f in fields(AggregateConfig)})


def run(params: dict[str, Any], params_file: str, raw: Path, out: Path) -> None:
    cfg = section(params, "aggregate", AggregateSettings, params_file)
    seed = section(params, "seed", int, params_file)
    index, rejects = aggregate(raw, out, cfg.images())
    shortcuts, content = _audits(index, out / "images", seed, cfg)
    write_json(
        "metrics/aggregate.json",
        {
            **_counts(index, rejects, raw),
            "shortcut_audit": shortcuts,
            "content_audit": content,
        },
    )
    _plots(index, out / "images", content, cfg.contact_sheet_images, seed)


def _audits(
    index: pd.DataFrame, images: Path, seed: int, cfg: AggregateSettings
) -> tuple[dict[str, float], dict]:
    """How well file metadata (before and after normalisation) and content statistics predict
    the class, in-domain images only."""
    indomain = index[~index["label"].map(is_ood)]
    labels, folds = indomain["label"], cfg.audit_folds
    before = audit(original_metadata(indomain), labels, seed, folds)
    normalised = file_metadata([images / f"{i}.jpg" for i in indomain["id"]])
    after = audit(normalised, labels, seed, folds, CONTAINER)
    complexity = audit(normalised, labels, seed, folds, ("file_size",))
    content = content_audit(indomain, images, seed, folds, cfg.audit_augment)
    shortcuts = {
        "before": round(before, 4),
        "after": round(after, 4),
        "after_file_size_only": round(complexity, 4),
        "chance": round(1 / len(CLASSES), 4),
    }
    return shortcuts, content


def _value_counts(column: pd.Series) -> dict[str, int]:
    return {k: int(v) for k, v in column.value_counts().items()}


def _counts(index: pd.DataFrame, rejects: pd.DataFrame, raw: Path) -> dict[str, Any]:
    """Images per class and source, OOD images per set, and what was rejected or removed."""
    duplicates = rejects["duplicate_of"].astype(bool)
    ood = index[index["label"].map(is_ood)]
    return {
        "counts": {c: int((index["label"] == c).sum()) for c in CLASSES},
        "ood_counts": {ood_set(k): v for k, v in _value_counts(ood["label"]).items()},
        "sources": int(index["source"].nunique()),
        "source_counts": {
            c: _value_counts(index.loc[index["label"] == c, "source"]) for c in CLASSES
        },
        "missing_sources": missing_sources(raw),
        "rejected": int((~duplicates).sum()),
        "duplicates_removed": int(duplicates.sum()),
        "reject_reasons": _value_counts(rejects.loc[~duplicates, "reason"].str.split(":").str[0]),
    }


def _plots(index: pd.DataFrame, images: Path, content: dict, per_class: int, seed: int) -> None:
    counts = source_counts(index)
    PLOTS.mkdir(parents=True, exist_ok=True)
    counts.to_csv(PLOTS / "source_counts.csv", index=False)
    figures = PLOTS / "figures"
    plot_source_counts(counts, figures / "source_counts.png")
    plot_content_audit(content, figures / "content_audit.png")
    contact_sheets(index, images, figures, per_class, seed)
