"""Which frozen foundation features generalise to unseen sources: DINOv2 ViT-S/14 or OpenAI CLIP
ViT-B/16, and the last class token or more than the last layer.

    python benchmarks/feature_layers.py                      # DINOv2, balanced scenario, 224 px
    python benchmarks/feature_layers.py --backbone clip --size 160 --scenario natural

One forward pass over the pack gives, per image, the class token and the mean patch token of
every block (timm's ``forward_intermediates``, final norm applied). A logistic regression
(balanced classes, source balance ``--source-balance``, 1 as the pipeline's DINOv2 probe) is
fitted on the scenario's train split for each feature set and scored on the in-source balanced
test and the held-out sources, with 95% bootstrap intervals. Features are cached next to the
pipeline's. The last row's features are what the ``*_allblocks`` models compute.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from probe_study import SETS, pipeline_probe, scenario_sets, scored, study_parser
from tqdm import tqdm

from avatar_type.data import packed
from avatar_type.models.registry import build_model, data_config
from avatar_type.train.data import Normalise, file_identity, local_cache, packed_at
from avatar_type.train.imbalance import source_weights

BACKBONES = {"dinov2": "vit_small_patch14_dinov2", "clip": "vit_base_patch16_clip_quickgelu_224"}
BLOCKS = 12  # every block of both ViTs: the feature sets below take the last 1, 4 or 12


@torch.inference_mode()
def layer_features(
    images: np.ndarray, arch: str, size: int, batch_size: int = 32
) -> dict[str, np.ndarray]:
    """Per image: class token and mean patch token of each of the last ``BLOCKS`` blocks."""
    model = build_model(arch, "offline", img_size=size).eval()
    dc = data_config(model)
    normalise = Normalise(dc["mean"], dc["std"])
    cls, patch = [], []
    for start in tqdm(range(0, len(images), batch_size), desc=f"{arch} layers", unit="batch"):
        x = normalise(torch.from_numpy(np.ascontiguousarray(images[start : start + batch_size])))
        _, inter = model.forward_intermediates(
            x, indices=BLOCKS, return_prefix_tokens=True, norm=True, output_fmt="NLC"
        )
        cls.append(torch.cat([prefix[:, 0] for _, prefix in inter], 1))
        patch.append(torch.cat([tokens.mean(1) for tokens, _ in inter], 1))
    return {"cls": torch.cat(cls).numpy(), "patch": torch.cat(patch).numpy()}


def cached_layer_features(pack_dir: Path, arch: str, size: int) -> dict[str, np.ndarray]:
    images, _ = packed_at(pack_dir, size)
    key = hashlib.sha256(
        f"{arch}|layers{BLOCKS}|{size}|{file_identity(pack_dir / packed.IMAGES)}".encode()
    ).hexdigest()[:20]
    path = local_cache("features") / f"{key}-layers.npz"
    if not path.is_file():
        np.savez(path, **layer_features(images, arch, size))
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


def feature_sets(f: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    d = f["cls"].shape[1] // BLOCKS
    last = {k: f[k][:, -d:] for k in f}
    last4 = {k: f[k][:, -4 * d :] for k in f}
    return {
        "class token, last block (pipeline)": last["cls"],
        "class + mean patch token, last block": np.hstack([last["cls"], last["patch"]]),
        "class tokens, last 4 blocks": last4["cls"],
        "class + mean patch tokens, last 4 blocks": np.hstack([last4["cls"], last4["patch"]]),
        f"class tokens, all {BLOCKS} blocks": f["cls"],
    }


def main() -> None:
    parser = study_parser(__doc__, "balanced")
    parser.add_argument("--backbone", choices=sorted(BACKBONES), default="dinov2")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--source-balance", type=float, default=1.0)
    args = parser.parse_args()
    index, sets = scenario_sets(args)
    rows, y = sets["train"]
    weights = source_weights(y, index["source"].to_numpy()[rows], args.source_balance)
    results = []
    arch = BACKBONES[args.backbone]
    for name, x in feature_sets(cached_layer_features(args.pack, arch, args.size)).items():
        probe = pipeline_probe()
        probe.fit(x[rows], y, sample_weight=weights)
        row = {"features": name, "dim": x.shape[1]}
        for set_name in SETS:
            r, t = sets[set_name]
            if len(r):
                row[set_name] = scored(t, probe.predict_proba(x[r]), args.seed)
        results.append(row)
    print(f"\n{arch} at {args.size} px, {args.scenario} scenario, macro-F1 [95% CI]:")
    print(pd.DataFrame(results).to_markdown(index=False))


if __name__ == "__main__":
    main()
