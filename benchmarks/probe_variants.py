"""What changes a frozen-feature probe's score on unseen sources: head settings, generator
families, training sources and a second backbone, on the pipeline's own cached features.

    python benchmarks/probe_variants.py                       # natural scenario, CLIP
    python benchmarks/probe_variants.py --scenario balanced
    python benchmarks/probe_variants.py --backbone dinov2     # DINOv2's last block

Every variant is a logistic regression on frozen penultimate features (``--backbone``: the
default run's CLIP ViT-B/16 class tokens of every block at 160 px, or DINOv2 ViT-S/14's last
block at 224 px), fitted on the scenario's train split and scored on the in-source balanced test
and on the held-out sources, macro-F1 with 95% bootstrap intervals and recall per class on
unseen_test. The first row is C = 1, balanced classes, source balance 0.5. Features come from
the same cache as the train stage's frozen models (computed once when absent).

The StyleGAN variant adds faces of the held-out StyleGAN source's generator, drawn from another
seed than the held-out faces, to the training images; its unseen_test figures leave that source
out (the generator is no longer unseen), so compare its row with ``unseen_test w/o StyleGAN``.
"""

from __future__ import annotations

import hashlib
import io
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image
from probe_study import (
    SETS,
    backbone_features,
    embedded,
    pipeline_probe,
    scenario_sets,
    scored,
    study_parser,
)
from sklearn.preprocessing import StandardScaler, normalize

from avatar_type.data.aggregate import Task, process
from avatar_type.labels import CLASS_TO_INDEX, CLASSES
from avatar_type.params import load_yaml, section
from avatar_type.sources.generators import mobilestylegan
from avatar_type.sources.spec import parse_source
from avatar_type.stages.aggregate import AggregateSettings
from avatar_type.train.data import resize_batch
from avatar_type.train.features import cached_features, weights_identity
from avatar_type.train.imbalance import source_weights

BACKBONES = {
    "clip": ("vit_base_patch16_clip_quickgelu_224_allblocks", 160),
    "dinov2": ("vit_small_patch14_dinov2", 224),
    "effnet": ("tf_efficientnet_lite0", 128),
}
DCGAN = "gan-face-dcgan"
STYLEGAN = "stylegan-faces"
STYLEGAN_TRAIN_SEED = 1  # the held-out faces are drawn with sources.yaml's seed (0)
STYLEGAN_TRAIN_COUNT = 200


def stylegan_train_features(arch: str, size: int, seed: int) -> np.ndarray:
    """Features of STYLEGAN_TRAIN_COUNT faces of the held-out StyleGAN source's generator, drawn
    from STYLEGAN_TRAIN_SEED and normalised exactly as the aggregate stage does every image."""
    raw = load_yaml("sources.yaml")["sources"][STYLEGAN]
    pin = {**raw["pin"], "seed": STYLEGAN_TRAIN_SEED, "count": STYLEGAN_TRAIN_COUNT}
    spec = parse_source(f"{STYLEGAN}-train", {**raw, "pin": pin})
    cfg = section(load_yaml("params.yaml"), "aggregate", AggregateSettings).images()
    settings = {k: v for k, v in asdict(cfg).items() if k != "workers"}
    weights = weights_identity(arch, "offline", seed)
    blob = f"{arch}|{weights}|{size}|{pin}|{raw['options']}|{settings}"

    def compute() -> np.ndarray:
        faces = []
        with tempfile.TemporaryDirectory() as tmp:
            for rel in sorted(mobilestylegan(spec, Path(tmp))):
                task = Task(spec.name, rel, str(Path(tmp) / rel), "generated", rel, "", "", False)
                rows, reason = process(task, cfg)
                if reason is not None:
                    raise RuntimeError(f"{spec.name}/{rel}: {reason}")
                faces.append(np.asarray(Image.open(io.BytesIO(rows[0]["jpeg"])).convert("RGB")))
        images = resize_batch(torch.from_numpy(np.stack(faces)), size).numpy()
        return embedded(arch, size, images)

    return cached_features(hashlib.sha256(blob.encode()).hexdigest()[:20], compute)


@dataclass(frozen=True)
class Variant:
    name: str
    features: str = "main"  # a key of the feature table built in main()
    c: float = 1.0
    power: float = 0.5
    # sub-labels for training, merged back to their class at prediction
    sub_label: Callable[[pd.DataFrame], np.ndarray] | None = None
    keep: Callable[[pd.DataFrame], np.ndarray] | None = None  # which train images to use
    stylegan: bool = False  # add the StyleGAN generator's faces (another seed) to training


def _dcgan_own_class(rows: pd.DataFrame) -> np.ndarray:
    sub = rows["label"].map(CLASS_TO_INDEX).to_numpy()
    return np.where(rows["source"].to_numpy() == DCGAN, len(CLASSES), sub)


VARIANTS = (
    Variant("C 1, source balance 0.5"),
    Variant("C 0.1 (10x stronger L2 penalty)", c=0.1),
    Variant("C 3", c=3.0),
    Variant("L2-normalised features", features="main_l2"),
    Variant("source balance 1 (every source of a class weighs alike)", power=1.0),
    Variant("DCGAN faces a class of their own in training", sub_label=_dcgan_own_class),
    Variant("DCGAN faces left out of training", keep=lambda rows: rows["source"] != DCGAN),
    Variant(f"{STYLEGAN_TRAIN_COUNT} StyleGAN faces (seed 1) added to training", stylegan=True),
    Variant("EfficientNet-Lite0 features (128 px)", features="effnet"),
    Variant("backbone + EfficientNet-Lite0, standardised, C 0.1", features="both", c=0.1),
)


def _merged(probe, sub_probs: np.ndarray, parent: dict[int, int]) -> np.ndarray:
    """Class probabilities from sub-label probabilities (each sub-label onto its class)."""
    probs = np.zeros((len(sub_probs), len(CLASSES)))
    for column, sub in enumerate(probe.classes_):
        probs[:, parent[int(sub)]] += sub_probs[:, column]
    return probs


def score(
    variant: Variant, x: np.ndarray, index: pd.DataFrame, sets: dict, seed: int, extra: np.ndarray
) -> dict:
    """Fit the variant's probe and score it; ``extra`` holds the StyleGAN training features."""
    rows, y = sets["train"]
    train = index.iloc[rows]
    if variant.keep is not None:
        keep = np.asarray(variant.keep(train), bool)
        rows, y, train = rows[keep], y[keep], train[keep]
    target = y if variant.sub_label is None else variant.sub_label(train)
    x_train, sources = x[rows], train["source"].to_numpy()
    if variant.stylegan:
        generated = np.full(len(extra), CLASS_TO_INDEX["generated"])
        x_train = np.vstack([x_train, extra])
        y, target = np.concatenate([y, generated]), np.concatenate([target, generated])
        sources = np.concatenate([sources, np.full(len(extra), STYLEGAN)])
    probe = pipeline_probe(variant.c)
    probe.fit(x_train, target, sample_weight=source_weights(y, sources, variant.power))
    # each sub-label's class, from the training pairs: probabilities merge back onto it
    parent = {int(sub): int(y[target == sub][0]) for sub in probe.classes_}
    result = {"variant": variant.name}
    for name in SETS:
        r, t = sets[name]
        probs = _merged(probe, probe.predict_proba(x[r]), parent)
        if name == "unseen_test":
            seen = index["source"].to_numpy()[r] != STYLEGAN
            if not variant.stylegan:
                result[name] = scored(t, probs, seed)
            result[f"{name} w/o StyleGAN"] = scored(t[seen], probs[seen], seed)
            pred = probs.argmax(1)
            for k, label in enumerate(CLASSES):
                result[f"recall {label}"] = f"{float((pred[t == k] == k).mean()):.2f}"
            held = seen & (t == CLASS_TO_INDEX["generated"])
            result["generated w/o StyleGAN"] = f"{float((pred[held] == t[held]).mean()):.2f}"
        else:
            result[name] = scored(t, probs, seed)
    return result


def main() -> None:
    parser = study_parser(__doc__, "natural")
    parser.add_argument("--backbone", choices=("clip", "dinov2"), default="clip")
    args = parser.parse_args()
    index, sets = scenario_sets(args)
    arch, size = BACKBONES[args.backbone]
    main_features = backbone_features(args.pack, arch, size, args.seed)
    effnet = backbone_features(args.pack, *BACKBONES["effnet"], args.seed)
    table = {
        "main": main_features,
        "main_l2": normalize(main_features),
        "effnet": effnet,
        # each backbone standardised on the train images, so neither dominates the penalty
        "both": np.hstack(
            [
                StandardScaler().fit(f[sets["train"][0]]).transform(f)
                for f in (main_features, effnet)
            ]
        ),
    }
    extra = stylegan_train_features(arch, size, args.seed)
    results = [score(v, table[v.features], index, sets, args.seed, extra) for v in VARIANTS]
    print(f"\n{args.scenario}, {arch} at {size} px, macro-F1 [95% CI]; recall on unseen_test:")
    print(pd.DataFrame(results).to_markdown(index=False))


if __name__ == "__main__":
    main()
