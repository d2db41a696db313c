"""Prediction throughput: `avatar-type predict` on a folder against the model alone.

Makes a folder of generated images (varied sizes; PNG with alpha, JPEG and WEBP) in a temporary
directory, and an untrained model built like the default one (metrics/summary.json's best model
when there is one, else the first of train.models; its arch and img_size from params.yaml),
saved with a card as training writes it, the preprocessing pipeline taken from params.yaml.
Speed does not depend on the weights, so nothing is trained. Then it times:

- predict: ``avatar-type predict FOLDER --format csv`` called in this process, start-up
  included (model loading, worker processes, the folder scan), output to /dev/null;
- model only: random uint8 batches of the stored size through the same resize, normalisation
  and forward pass at the same batch size: the ceiling predict can reach.

The ratio predict / model only says what preparing files costs (target >= 0.8).

    python benchmarks/predict_throughput.py --images 2000 --batch-size 32      # --workers auto
    python benchmarks/predict_throughput.py --model mobilenetv2_progressive --workers 2
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from avatar_type.cli import main
from avatar_type.labels import CLASSES
from avatar_type.models.registry import build_model, data_config
from avatar_type.params import load_yaml
from avatar_type.train.data import Normalise, resize_batch
from avatar_type.train.output import save_model

REPO = Path(__file__).resolve().parents[1]
TARGET = 0.8
FORMATS = ("png", "jpeg", "webp")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, help="as predict's --workers (default: auto)")
    parser.add_argument("--model", help="a key of models: in params.yaml (default: as above)")
    parser.add_argument("--params", type=Path, default=REPO / "params.yaml")
    parser.add_argument("--summary", type=Path, default=REPO / "metrics" / "summary.json")
    return parser.parse_args()


def default_model(params: dict, summary: Path) -> str:
    if summary.is_file():
        best = json.loads(summary.read_text(encoding="utf-8")).get("best") or {}
        if best.get("model") in params["models"]:
            return best["model"]
    return params["train"]["models"][0]


def make_images(folder: Path, count: int, seed: int = 0) -> None:
    """``count`` images, 64 to 512 px a side, cycling PNG (RGBA), JPEG and WEBP: gradients under
    blocks of colour and noise, so every file decodes to different content."""
    rng = np.random.default_rng(seed)
    for i in range(count):
        h, w = rng.integers(64, 513, size=2)
        ramp = np.linspace(0, 255, w, dtype=np.float32)[None, :, None]
        blocks = rng.integers(0, 256, (8, 8, 3)).repeat(-(-h // 8), 0).repeat(-(-w // 8), 1)
        rgb = 0.5 * ramp + 0.4 * blocks[:h, :w] + rng.normal(0, 12, (h, w, 3))
        rgb = rgb.clip(0, 255).astype(np.uint8)
        kind = FORMATS[i % len(FORMATS)]
        if kind == "png":
            alpha = np.linspace(0, 255, h, dtype=np.uint8)[:, None].repeat(w, 1)
            Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(folder / f"{i:05d}.png")
        else:
            Image.fromarray(rgb).save(folder / f"{i:05d}.{kind}", quality=90)


def save_untrained(params: dict, name: str, directory: Path) -> tuple[torch.nn.Module, dict]:
    """An untrained ``models.<name>`` with the card a training run writes."""
    entry = params["models"][name]
    torch.manual_seed(0)
    model = build_model(entry["arch"], "none", img_size=entry["img_size"]).eval()
    card = {
        "model": name,
        "arch": entry["arch"],
        "classes": list(CLASSES),
        "preprocessing": {
            "img_size": entry["img_size"],
            **data_config(model),
            "resize": "bilinear, antialiased",
            "pipeline": {"aggregate": params["aggregate"], "denoise": params["denoise"]},
        },
        "ood": {"score": "energy", "threshold": -1.0, "tpr": 0.95, "fitted_on": "val"},
    }
    save_model(model, directory, card)
    return model, card


def predict_rate(
    folder: Path, model_dir: Path, count: int, batch: int, workers: int | None
) -> float:
    options = {"--model": model_dir, "--batch-size": batch}
    if workers is not None:
        options["--workers"] = workers
    argv = ["predict", str(folder), "--format", "csv", "--device", "cpu"]
    argv += [str(v) for item in options.items() for v in item]
    start = time.perf_counter()
    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
        status = main(argv)
    seconds = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"avatar-type predict exited {status}")
    return count / seconds


@torch.inference_mode()
def model_rate(model: torch.nn.Module, card: dict, count: int, batch: int) -> float:
    """Images/s of resize + normalise + forward on random uint8 batches of the stored size."""
    pre = card["preprocessing"]
    stored = pre["pipeline"]["aggregate"]["size"]
    normalise = Normalise(tuple(pre["mean"]), tuple(pre["std"]))
    g = torch.Generator().manual_seed(0)
    batches = [
        torch.randint(0, 256, (batch, stored, stored, 3), generator=g, dtype=torch.uint8)
        for _ in range(4)
    ]
    model(normalise(resize_batch(batches[0], pre["img_size"])))  # warm-up
    steps = -(-count // batch)
    start = time.perf_counter()
    for k in range(steps):
        model(normalise(resize_batch(batches[k % len(batches)], pre["img_size"])))
    return steps * batch / (time.perf_counter() - start)


def run() -> None:
    args = parse_args()
    params = load_yaml(args.params)
    name = args.model or default_model(params, args.summary)
    with tempfile.TemporaryDirectory() as tmp:
        folder, model_dir = Path(tmp) / "images", Path(tmp) / "model"
        folder.mkdir()
        make_images(folder, args.images)
        model, card = save_untrained(params, name, model_dir)
        predict = predict_rate(folder, model_dir, args.images, args.batch_size, args.workers)
    alone = model_rate(model, card, args.images, args.batch_size)
    ratio = predict / alone
    print(
        f"{name} ({card['arch']}, {card['preprocessing']['img_size']} px), {args.images} images, "
        f"batch {args.batch_size}, workers {args.workers or 'auto'}, {os.cpu_count()} CPUs, "
        f"{torch.get_num_threads()} torch threads"
    )
    print(f"predict (start-up included): {predict:8.1f} images/s")
    print(f"model only:                  {alone:8.1f} images/s")
    verdict = "meets" if ratio >= TARGET else "misses"
    print(f"ratio:                       {ratio:8.2f} ({verdict} the target {TARGET})")


if __name__ == "__main__":
    run()
