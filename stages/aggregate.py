"""DVC stage: decode, validate, normalise and deduplicate every fetched source; audit shortcuts."""

import argparse
from pathlib import Path

from avatar_type.data.aggregate import AggregateConfig, aggregate, missing_sources
from avatar_type.data.shortcut_audit import (
    CONTAINER,
    audit,
    content_audit,
    file_metadata,
    original_metadata,
)
from avatar_type.labels import CLASSES, is_ood, ood_set
from avatar_type.params import load_yaml
from avatar_type.runner import run, write_json
from avatar_type.train.config import AugmentConfig
from avatar_type.viz.data_plots import (
    contact_sheets,
    plot_content_audit,
    plot_source_counts,
    source_counts,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--raw", default="data/raw")
    parser.add_argument("--out", default="data/aggregated")
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args()
    params = load_yaml(args.params)
    section = dict(params["aggregate"])
    per_class, folds = section.pop("contact_sheet_images"), section.pop("audit_folds")
    # the augmentation whose effect on the content shortcuts is audited; absent: none
    audit_augment = section.pop("audit_augment", None)
    if audit_augment is not None:
        audit_augment = AugmentConfig.from_params(audit_augment, "aggregate.audit_augment")
    cfg = AggregateConfig.from_params(section)
    out = Path(args.out)
    index, rejects = aggregate(Path(args.raw), out, cfg)

    indomain = index[~index["label"].map(is_ood)]
    before = audit(original_metadata(indomain), indomain["label"], params["seed"], folds)
    files = [out / "images" / f"{i}.jpg" for i in indomain["id"]]
    normalised = file_metadata(files)
    after = audit(normalised, indomain["label"], params["seed"], folds, CONTAINER)
    complexity = audit(normalised, indomain["label"], params["seed"], folds, ("file_size",))
    content = content_audit(indomain, out / "images", params["seed"], folds, audit_augment)
    duplicates = rejects["duplicate_of"].astype(bool)
    ood = index[index["label"].map(is_ood)]
    write_json(
        "metrics/aggregate.json",
        {
            "counts": {c: int((index["label"] == c).sum()) for c in CLASSES},
            "ood_counts": {ood_set(k): int(v) for k, v in ood["label"].value_counts().items()},
            "sources": int(index["source"].nunique()),
            "source_counts": {
                c: {
                    k: int(v)
                    for k, v in index.loc[index["label"] == c, "source"].value_counts().items()
                }
                for c in CLASSES
            },
            "missing_sources": missing_sources(Path(args.raw)),
            "rejected": int((~duplicates).sum()),
            "duplicates_removed": int(duplicates.sum()),
            "reject_reasons": {
                k: int(v)
                for k, v in rejects.loc[~duplicates, "reason"]
                .str.split(":")
                .str[0]
                .value_counts()
                .items()
            },
            "shortcut_audit": {
                "before": round(before, 4),
                "after": round(after, 4),
                "after_file_size_only": round(complexity, 4),
                "chance": round(1 / len(CLASSES), 4),
            },
            "content_audit": content,
        },
    )
    counts = source_counts(index)
    Path("plots/aggregate").mkdir(parents=True, exist_ok=True)
    counts.to_csv("plots/aggregate/source_counts.csv", index=False)
    figures = Path("plots/aggregate/figures")
    plot_source_counts(counts, figures / "source_counts.png")
    plot_content_audit(content, figures / "content_audit.png")
    contact_sheets(index, out / "images", figures, per_class, params["seed"])


if __name__ == "__main__":
    run(main)
