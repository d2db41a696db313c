"""What changes a frozen-feature probe's score on unseen sources: head settings, generator
families, training sources and a second backbone, on the pipeline's own cached features.

    python benchmarks/probe_variants.py                       # natural scenario
    python benchmarks/probe_variants.py --scenario balanced

Every variant is a logistic regression on frozen penultimate features (DINOv2 ViT-S/14 at 224
px unless named), fitted on the scenario's train split and scored on the in-source balanced test
and on the held-out sources, macro-F1 with 95% bootstrap intervals and recall per class on
unseen_test. The first row is the pipeline's probe as it was before it weighed every source
alike and read every block (C = 1, balanced classes, source balance 0.5, the last block's class
token; ``feature_layers.py`` compares the blocks). Features come from the same cache as the
train stage's last-block models (computed once when absent).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from probe_study import SETS, pipeline_probe, scenario_sets, scored, study_parser
from sklearn.preprocessing import StandardScaler, normalize

from avatar_type.data import packed
from avatar_type.labels import CLASS_TO_INDEX, CLASSES
from avatar_type.models.registry import build_model, data_config
from avatar_type.train.data import Normalise, packed_at
from avatar_type.train.features import cached_features, embed, feature_key
from avatar_type.train.imbalance import source_weights

BACKBONES = {"dinov2": ("vit_small_patch14_dinov2", 224), "effnet": ("tf_efficientnet_lite0", 128)}
DCGAN = "gan-face-dcgan"


def backbone_features(pack: Path, arch: str, size: int, seed: int) -> np.ndarray:
    """The train stage's cached features of every pack image (same key, same cache)."""

    def compute() -> np.ndarray:
        model = build_model(arch, "offline", img_size=size).eval()
        dc = data_config(model)
        images, _ = packed_at(pack, size)
        return embed(model, images, Normalise(dc["mean"], dc["std"]), torch.device("cpu"))

    return cached_features(feature_key(arch, "offline", size, pack / packed.IMAGES, seed), compute)


@dataclass(frozen=True)
class Variant:
    name: str
    features: str = "dinov2"  # a key of the feature table built in main()
    c: float = 1.0
    power: float = 0.5
    # sub-labels for training, merged back to their class at prediction
    sub_label: Callable[[pd.DataFrame], np.ndarray] | None = None
    keep: Callable[[pd.DataFrame], np.ndarray] | None = None  # which train images to use


def _dcgan_own_class(rows: pd.DataFrame) -> np.ndarray:
    sub = rows["label"].map(CLASS_TO_INDEX).to_numpy()
    return np.where(rows["source"].to_numpy() == DCGAN, len(CLASSES), sub)


VARIANTS = (
    Variant("pipeline probe: C 1, source balance 0.5"),
    Variant("C 0.1 (10x stronger L2 penalty)", c=0.1),
    Variant("C 3", c=3.0),
    Variant("L2-normalised features", features="dinov2_l2"),
    Variant("source balance 1 (every source of a class weighs alike)", power=1.0),
    Variant("DCGAN faces a class of their own in training", sub_label=_dcgan_own_class),
    Variant("DCGAN faces left out of training", keep=lambda rows: rows["source"] != DCGAN),
    Variant("EfficientNet-Lite0 features (128 px)", features="effnet"),
    Variant("DINOv2 + EfficientNet-Lite0, standardised, C 0.1", features="both", c=0.1),
)


def score(variant: Variant, x: np.ndarray, index: pd.DataFrame, sets: dict, seed: int) -> dict:
    rows, y = sets["train"]
    train = index.iloc[rows]
    if variant.keep is not None:
        keep = np.asarray(variant.keep(train), bool)
        rows, y, train = rows[keep], y[keep], train[keep]
    target = y if variant.sub_label is None else variant.sub_label(train)
    weights = source_weights(y, train["source"].to_numpy(), variant.power)
    probe = pipeline_probe(variant.c)
    probe.fit(x[rows], target, sample_weight=weights)
    # each sub-label's class, from the training pairs: probabilities merge back onto it
    parent = {int(sub): int(y[target == sub][0]) for sub in probe.classes_}
    result = {"variant": variant.name}
    for name in SETS:
        r, t = sets[name]
        sub_probs = probe.predict_proba(x[r])
        probs = np.zeros((len(r), len(CLASSES)))
        for column, sub in enumerate(probe.classes_):
            probs[:, parent[int(sub)]] += sub_probs[:, column]
        result[name] = scored(t, probs, seed)
        pred = probs.argmax(1)
        if name == "unseen_test":
            for k, label in enumerate(CLASSES):
                result[f"recall {label}"] = f"{float((pred[t == k] == k).mean()):.2f}"
    return result


def main() -> None:
    args = study_parser(__doc__, "natural").parse_args()
    index, sets = scenario_sets(args)
    raw = {k: backbone_features(args.pack, *v, args.seed) for k, v in BACKBONES.items()}
    table = {
        "dinov2": raw["dinov2"],
        "dinov2_l2": normalize(raw["dinov2"]),
        "effnet": raw["effnet"],
        # each backbone standardised on the train images, so neither dominates the penalty
        "both": np.hstack(
            [StandardScaler().fit(f[sets["train"][0]]).transform(f) for f in raw.values()]
        ),
    }
    results = [score(v, table[v.features], index, sets, args.seed) for v in VARIANTS]
    print(f"\n{args.scenario} scenario, macro-F1 [95% CI]; recall on unseen_test:")
    print(pd.DataFrame(results).to_markdown(index=False))


if __name__ == "__main__":
    main()
