"""What the probe benchmarks (feature_layers.py, probe_variants.py, leave_source_out.py) share:
the command line, a scenario's sets, the pipeline's probe, one scored cell and the cached
backbone features."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.linear_model import LogisticRegression

from avatar_type.data import packed
from avatar_type.evaluate.uncertainty import bootstrap_intervals, macro_f1
from avatar_type.models.registry import build_model, data_config
from avatar_type.train.data import Normalise, packed_at, split_rows
from avatar_type.train.features import cached_features, embed, feature_key

SETS = ("balanced_test", "unseen_val", "unseen_test")


def study_parser(doc: str, scenario: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--scenario", default=scenario)
    parser.add_argument("--pack", type=Path, default=Path("data/denoised"))
    parser.add_argument("--splits", type=Path, default=Path("data/splits"))
    parser.add_argument("--seed", type=int, default=42)
    return parser


def scenario_sets(args: argparse.Namespace) -> tuple[pd.DataFrame, dict]:
    """The pack's index and (rows, labels) of the train split and of every set in SETS."""
    _, index = packed.load(args.pack)
    split = pd.read_csv(args.splits / f"{args.scenario}.csv", keep_default_na=False)
    return index, {name: split_rows(index, split, name) for name in ("train", *SETS)}


def pipeline_probe(c: float = 1.0) -> LogisticRegression:
    """The train stage's linear_probe head: logistic regression with balanced classes."""
    return LogisticRegression(C=c, max_iter=3000, class_weight="balanced")


def scored(y: np.ndarray, probs: np.ndarray, seed: int) -> str:
    """Macro-F1 with its seeded 95% bootstrap interval, as the tables print it."""
    lo, hi = bootstrap_intervals(y, probs, seed)["macro_f1"]
    return f"{float(macro_f1(y[None], probs.argmax(1)[None])[0]):.3f} [{lo:.2f}, {hi:.2f}]"


def embedded(arch: str, size: int, images: np.ndarray) -> np.ndarray:
    """Penultimate features of uint8 NHWC ``images`` from the offline weights of ``arch``."""
    model = build_model(arch, "offline", img_size=size).eval()
    dc = data_config(model)
    return embed(model, images, Normalise(dc["mean"], dc["std"]), torch.device("cpu"))


def backbone_features(pack: Path, arch: str, size: int, seed: int) -> np.ndarray:
    """The train stage's cached features of every pack image (same key, same cache)."""
    key = feature_key(arch, "offline", size, pack / packed.IMAGES, seed)
    return cached_features(key, lambda: embedded(arch, size, packed_at(pack, size)[0]))
