"""Grad-CAM over one scenario's models: a wall of maps, pairwise overlap and confident mistakes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from tqdm import tqdm

from avatar_type.data import packed
from avatar_type.errors import ParamsError
from avatar_type.evaluate.predict import PROB_COLUMNS, read_tables
from avatar_type.explain.gradcam import gradcam_maps, overlay
from avatar_type.explain.overlap import pairwise_overlap, resize_map
from avatar_type.labels import CLASS_TO_INDEX, CLASSES
from avatar_type.train.data import packed_at, row_positions, split_rows
from avatar_type.train.output import load_trained


@dataclass(frozen=True)
class ExplainConfig:
    """The ``explain:`` section of params.yaml."""

    scenario: str
    images_per_class: int
    map_size: int
    top_fraction: float
    mistakes: int

    def validate(self, where: str) -> None:
        for key in ("images_per_class", "map_size", "mistakes"):
            if getattr(self, key) < 1:
                raise ParamsError(f"{where}.{key}: must be at least 1")
        if not 0 < self.top_fraction <= 1:
            raise ParamsError(f"{where}.top_fraction: must be in (0, 1]")


@dataclass
class Explanation:
    """What the explain stage writes: figures' inputs and the overlap table."""

    images: np.ndarray  # (N, H, W, 3) examples at the stored size
    captions: list[str]
    overlays: dict[str, np.ndarray]  # model -> (N, S, S, 3) Grad-CAM overlays, true class
    overlap: pd.DataFrame
    mistakes: list[np.ndarray]
    mistake_captions: list[str]


def pick_examples(rows: np.ndarray, y: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """Positions (into ``rows``) of up to ``per_class`` images of each class, seeded."""
    rng = np.random.default_rng(seed)
    picks = []
    for k in range(len(CLASSES)):
        members = np.nonzero(y == k)[0]
        picks.append(np.sort(rng.choice(members, min(per_class, len(members)), replace=False)))
    return np.concatenate(picks)


def _overlays(images: np.ndarray, cams: np.ndarray, size: int) -> np.ndarray:
    """Overlays at ``size`` px of maps on images of any size."""
    return np.stack(
        [
            overlay(
                cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA), resize_map(c, size)
            )
            for img, c in zip(images, cams, strict=True)
        ]
    )


def _mistakes(
    models: dict[str, Path],
    eval_dir: Path,
    scenario: str,
    run_seed: int,
    position: pd.Series,
    limit: int,
) -> pd.DataFrame:
    """The ``limit`` most confident wrong predictions on the balanced test, over all models."""
    wrong = []
    for name, table in read_tables(eval_dir, list(models), scenario, run_seed).items():
        chosen = table[(table["set"] == "balanced_test") & (table["predicted"] != table["label"])]
        confidence = chosen[PROB_COLUMNS].max(axis=1)
        wrong.append(chosen.assign(model=name, confidence=confidence))
    if not wrong:
        return pd.DataFrame()
    table = pd.concat(wrong).sort_values(
        ["confidence", "model", "id"], ascending=[False, True, True]
    )
    table = table.head(limit).reset_index(drop=True)
    return table.assign(row=position.loc[table["id"]].to_numpy())


def explain(
    models: dict[str, Path],
    pack_dir: Path,
    split_csv: Path,
    eval_dir: Path,
    settings: ExplainConfig,
    seed: int,
    run_seed: int,
) -> Explanation:
    """Grad-CAM of every model on the same balanced-test examples, and of confident mistakes.

    ``seed`` picks the examples; ``run_seed`` is the training seed of the explained runs."""
    stored, index = packed.load(pack_dir)
    split = pd.read_csv(split_csv, keep_default_na=False)
    rows, y = split_rows(index, split, "balanced_test")
    chosen = pick_examples(rows, y, settings.images_per_class, seed)
    rows, y = rows[chosen], y[chosen]
    position = row_positions(index)
    mistakes = _mistakes(models, eval_dir, settings.scenario, run_seed, position, settings.mistakes)

    maps, overlays, mistake_overlays = {}, {}, {}
    for name, model_dir in tqdm(models.items(), desc="grad-cam", unit="model"):
        model, card = load_trained(model_dir)
        images, _ = packed_at(pack_dir, card["preprocessing"]["img_size"])
        cams = gradcam_maps(model, card, np.asarray(images[rows]), y)
        maps[name] = np.stack([resize_map(c, settings.map_size) for c in cams])
        overlays[name] = _overlays(np.asarray(stored[rows]), cams, settings.map_size)
        own = mistakes[mistakes["model"] == name] if len(mistakes) else mistakes
        if len(own):
            targets = own["predicted"].map(CLASS_TO_INDEX).to_numpy()
            wrong_cams = gradcam_maps(
                model, card, np.asarray(images[own["row"].to_numpy()]), targets
            )
            shown = _overlays(
                np.asarray(stored[own["row"].to_numpy()]), wrong_cams, settings.map_size
            )
            mistake_overlays.update(zip(own.index, shown, strict=True))

    overlap = pd.DataFrame(pairwise_overlap(maps, y, list(CLASSES), settings.top_fraction))
    captions = [f"{CLASSES[k]}" for k in y]
    return Explanation(
        images=np.asarray(stored[rows]),
        captions=captions,
        overlays=overlays,
        overlap=overlap,
        mistakes=[mistake_overlays[i] for i in mistakes.index] if len(mistakes) else [],
        mistake_captions=[
            f"{r.model}\n{r.label} -> {r.predicted} ({r.confidence:.2f})"
            for r in mistakes.itertuples()
        ]
        if len(mistakes)
        else [],
    )


def overlap_summary(overlap: pd.DataFrame) -> dict:
    """Per class: mean IoU and Pearson r over model pairs, and each pair's figures."""
    summary = {}
    for name, group in overlap.groupby("class", sort=False):
        summary[name] = {
            "mean_iou": float(group["iou"].mean()),
            "mean_pearson": float(group["pearson"].mean()),
            "pairs": {
                f"{r.model_a}|{r.model_b}": {"iou": r.iou, "pearson": r.pearson}
                for r in group.itertuples()
            },
        }
    return summary
