"""Abstention: training fits an energy threshold on validation images, predict flags images
above it as unfamiliar and, with --abstain, labels them unknown."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from train_fixtures import TinyData, read_json

from avatar_type.cli import main
from avatar_type.evaluate.ood import ood_score
from avatar_type.train.config import TrainConfig
from avatar_type.train.data import Normalise, packed_at, split_rows
from avatar_type.train.loop import train_run
from avatar_type.train.output import CARD, load_trained

pytest_plugins = ("train_fixtures",)  # the isolated and tiny_data fixtures


def _train(data: TinyData, name: str, **overrides) -> Path:
    base = {"arch": "detector_cnn", "img_size": 32, "epochs": 3, "batch_size": 16, "lr": 0.003}
    rt = data.runtime(name)
    train_run(TrainConfig(**{**base, **overrides}), "tiny", "tiny", data.pack, data.split, rt)
    return rt.model_dir


def _val_scores(model_dir: Path, data: TinyData) -> np.ndarray:
    model, card = load_trained(model_dir)
    pre = card["preprocessing"]
    images, index = packed_at(data.pack, pre["img_size"])
    rows, _ = split_rows(index, data.split_frame(), "val")
    with torch.no_grad():
        x = torch.from_numpy(np.ascontiguousarray(images[rows]))
        logits = model(Normalise(pre["mean"], pre["std"])(x)).numpy()
    return ood_score(logits)


@pytest.mark.parametrize("mode", ["full", "frozen", "linear_probe"])
def test_training_fits_a_threshold_that_keeps_95_percent_of_val_familiar(tiny_data, mode):
    model_dir = _train(tiny_data, mode, mode=mode)
    entry = read_json(model_dir / CARD)["ood"]
    threshold = entry.pop("threshold")
    assert entry == {"score": "energy", "tpr": 0.95, "fitted_on": "val"}
    scores = _val_scores(model_dir, tiny_data)
    # the threshold is one of the val scores (recomputed here in another batch: 1e-5 slack)
    familiar = float((scores <= threshold + 1e-5).mean())
    assert 0.95 <= familiar <= 0.95 + 1 / len(scores)


def _predict(capsys, folder: Path, model_dir: Path) -> dict[str, dict]:
    args = ["--model", str(model_dir), "--format", "json", "--abstain", "--device", "cpu"]
    status = main(["predict", str(folder), *args])
    assert status == 0
    return {Path(r["path"]).name: r for r in json.loads(capsys.readouterr().out)}


def test_abstain_labels_hostile_inputs_unknown(tiny_data, capsys):
    model_dir = _train(tiny_data, "full")
    hostile = tiny_data.root / "hostile"
    hostile.mkdir()
    rng = np.random.default_rng(0)
    for k in range(4):
        noise = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
        Image.fromarray(noise).save(hostile / f"noise{k}.png")
    Image.fromarray(np.zeros((64, 64, 4), np.uint8), "RGBA").save(hostile / "clear.png")
    Image.fromarray(np.full((64, 64, 4), 255, np.uint8), "RGBA").save(hostile / "white.png")

    # uniform noise is far from every class: the fitted threshold flags it
    rows = _predict(capsys, hostile, model_dir)
    for k in range(4):
        noise = rows[f"noise{k}.png"]
        assert noise["label"] == "unknown" and noise["unfamiliar"] is True
    # an all-transparent PNG shows only the background it is composited onto: nothing to
    # classify, flagged whatever its score; a visible image is flagged by its score alone
    score = rows["white.png"]["ood_score"]
    card = read_json(model_dir / CARD)
    for threshold, flagged in ((score - 1e-3, True), (score + 1e-3, False)):
        card["ood"]["threshold"] = threshold
        (model_dir / CARD).write_text(json.dumps(card))
        rows = _predict(capsys, hostile, model_dir)
        assert rows["white.png"]["unfamiliar"] is flagged
        assert (rows["white.png"]["label"] == "unknown") is flagged
        assert rows["clear.png"]["unfamiliar"] is True and rows["clear.png"]["label"] == "unknown"
