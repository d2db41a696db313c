"""``avatar-type export``: a trained model as an ONNX graph plus a JSON sidecar.

The graph takes what ``predict`` feeds its model: uint8 RGB images, NHWC, at the model's input
size (``img_size``), with the mean/std normalisation inside the graph, so a runtime needs no
float preprocessing of its own. The sidecar (the output path with ``.json``) says how to make
those images from a file (the card's preprocessing, its ``pipeline`` included), the class order
of the logits and the abstention threshold.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from avatar_type.models.onnx_export import INPUT, OUTPUT, export_onnx
from avatar_type.train.data import Normalise
from avatar_type.train.output import load_trained


def deployed(model: nn.Module, card: dict) -> nn.Module:
    """uint8 NHWC images at the input size -> logits: the model behind its normalisation."""
    pre = card["preprocessing"]
    return nn.Sequential(Normalise(tuple(pre["mean"]), tuple(pre["std"])), model).eval()


def sidecar_path(out: Path) -> Path:
    return Path(out).with_suffix(".json")


def export_model(model_dir: Path, out: Path) -> Path:
    """Write the ONNX graph to ``out`` and its sidecar beside it; returns the sidecar's path."""
    model, card = load_trained(model_dir)
    size = card["preprocessing"]["img_size"]
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    # a batch of two: torch.export would fix an axis of size 1 into the graph
    export_onnx(deployed(model, card), torch.zeros(2, size, size, 3, dtype=torch.uint8), out)
    sidecar = {
        "model": str(model_dir),
        "arch": card["arch"],
        "input": {
            "name": INPUT,
            "dtype": "uint8",
            "layout": "NHWC",
            "shape": ["batch", size, size, 3],
            "prepare": "decode and store as preprocessing.pipeline says (as `avatar-type "
            "predict` does), then resize to img_size as preprocessing.resize says; "
            "normalisation by mean/std is inside the graph",
        },
        "output": {"name": OUTPUT, "shape": ["batch", len(card["classes"])]},
        "classes": card["classes"],
        "preprocessing": card["preprocessing"],
        # flag an image when -logsumexp(logits) > threshold; null for models without one
        "ood": card.get("ood"),
    }
    path = sidecar_path(out)
    path.write_text(json.dumps(sidecar, indent=2), encoding="utf-8")
    return path
